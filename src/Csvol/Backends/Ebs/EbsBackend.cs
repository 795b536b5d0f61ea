using System.Collections.Concurrent;
using System.Globalization;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Csvol.Backends.Disks;
using Csvol.Mounting;
using Csvol.Resilience;
using Csvol.Volumes;
using Polly;

namespace Csvol.Backends.Ebs;

/// <summary>
/// <c>csvol/ebs</c>: one EBS volume per Docker volume, found by its tags, attached to the instance that mounts it and
/// detached when the last container there lets go, so that it can follow the container to another host.
/// </summary>
/// <remarks>
/// Every EC2 call runs through the <see cref="PipelineName"/> pipeline (the SDK's own retries are off). Every step
/// converges when repeated: Create by its client token and tags, attach and detach by the volume's current
/// attachment. The instance is asked who it is (IMDS) on first need, never at start-up.
/// </remarks>
internal sealed partial class EbsBackend : IVolumeBackend, IDisposable
{
    public const string BackendName = "ebs";
    public const string PipelineName = "csvol-ebs";
    public const string VolumeIdFact = "volumeId";
    public const string ZoneFact = "availabilityZone";

    private static readonly TimeSpan CreateBound = TimeSpan.FromSeconds(120);

    /// <summary>Client tokens tried for one name before giving up: one per earlier volume of that name, since deleted.</summary>
    private const int TokenGenerations = 64;

    private readonly EbsSettings _settings;
    private readonly ResiliencePipeline _pipeline;
    private readonly IMounter _mounter;
    private readonly TimeProvider _time;
    private readonly ILogger<EbsBackend> _logger;
    private readonly InstanceMetadata _metadata;
    private readonly EbsDevices _devices;
    private readonly FormatOnce _formatOnce;
    private readonly FetchOnce<AmazonEC2Client> _ec2;
    private readonly ConcurrentDictionary<string, string> _attachedDevices = new(StringComparer.Ordinal);

    /// <summary>Where each volume (by id) was attached when EC2 last described it (a Describe or a discovery).</summary>
    private readonly ConcurrentDictionary<string, string> _lastAttachment = new(StringComparer.Ordinal);

    public EbsBackend(EbsSettings settings, ResiliencePipeline pipeline, IMounter mounter, FormatOnce formatOnce, TimeProvider time, ILogger<EbsBackend> logger)
    {
        _formatOnce = formatOnce;
        _settings = settings;
        _pipeline = pipeline;
        _mounter = mounter;
        _time = time;
        _logger = logger;
        _metadata = new InstanceMetadata(settings.ImdsUrl);
        _devices = new EbsDevices(settings.DeviceRoot, settings.SysfsRoot, time);
        _ec2 = new FetchOnce<AmazonEC2Client>(CreateClientAsync);
    }

    public string Name => BackendName;

    public VolumeScope Scope => VolumeScope.Global;

    public IReadOnlyList<VolumeOptionSpec> Options => EbsOptions.Specs;

    public string? CheckCombination(IReadOnlyDictionary<string, string> options) =>
        EbsOptions.CheckCombination(options, EbsTags.FixedCount + _settings.ExtraTags.Count);

    public async Task<CreateResult> CreateAsync(VolumeRecord volume, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken)
    {
        if (await FindByNameAsync(volume.Name, cancellationToken) is { } existing)
        {
            return await AdoptAsync(volume, existing, cancellationToken);
        }

        var zone = volume.Options.GetValueOrDefault(EbsOptions.AvailabilityZone) ?? (await _metadata.GetAsync(cancellationToken)).AvailabilityZone;
        var request = CreateRequest(volume, zone);
        Volume? created = null;
        for (var generation = 0; created is null; generation++)
        {
            if (generation == TokenGenerations)
            {
                throw new VolumeException(
                    $"EC2 answered IdempotentParameterMismatch to all {TokenGenerations} client tokens of \"{volume.Name}\" in cluster \"{_settings.Cluster}\"; " +
                    "each belongs to an earlier volume of this name, since deleted. Use another volume name");
            }

            // Generation 0 is the plain hash of cluster and name. EC2 never reuses a token whose volume was deleted, so a
            // name created again after a Remove walks on to the next generation; every host and every retry walks the
            // same sequence, so a repeated or racing Create still lands on the one volume.
            request.ClientToken = _settings.ClientToken(volume.Name, generation);
            try
            {
                created = (await Ec2Async("CreateVolume", (ec2, t) => ec2.CreateVolumeAsync(request, t), cancellationToken, "IdempotentParameterMismatch")).Volume;
            }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode == "IdempotentParameterMismatch")
            {
                if (await FindByNameAsync(volume.Name, cancellationToken) is { } raced)
                {
                    return await AdoptAsync(volume, raced, cancellationToken); // made meanwhile by another host, perhaps with other options
                }
            }
        }

        LogCreated(volume.Name, created.VolumeId, zone);
        var available = await WaitForStateAsync(created.VolumeId, "available", v => v.State != VolumeState.Creating, CreateBound, cancellationToken);
        return available.State == VolumeState.Error
            ? throw new VolumeException($"EBS volume {created.VolumeId} for \"{volume.Name}\" ended in state error; remove it and create it again")
            : new CreateResult(FactsOf(available), Adopted: false);
    }

    /// <summary>Create of a name the cluster already has: the same options adopt it, other options are an Err naming the difference.</summary>
    private async Task<CreateResult> AdoptAsync(VolumeRecord volume, Volume existing, CancellationToken cancellationToken)
    {
        var options = OptionsOf(existing);
        if (options is null || !DiskTags.Same(options, volume.Options))
        {
            throw new VolumeException(options is null
                ? $"EBS volume {existing.VolumeId} is tagged {EbsTags.VolumeName}={volume.Name} in cluster \"{_settings.Cluster}\" but carries no readable {EbsTags.Options} tag; remove or retag it"
                : $"EBS volume {existing.VolumeId} for \"{volume.Name}\" already exists with other options: {DiskTags.Difference(options, volume.Options)}; create it with the same options or remove it first");
        }

        var ready = await WaitForStateAsync(existing.VolumeId, "available or in-use", v => v.State != VolumeState.Creating, CreateBound, cancellationToken);
        return new CreateResult(FactsOf(ready), Adopted: true);
    }

    public async Task RemoveAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        var id = VolumeIdOf(volume);
        if (id is null || await DescribeAsync(id, cancellationToken) is not { } found)
        {
            return;
        }

        var self = (await _metadata.GetAsync(cancellationToken)).InstanceId;
        if (found.Attachments is { Count: > 0 } attachments)
        {
            if (attachments.Any(a => a.InstanceId != self))
            {
                var holder = attachments.First(a => a.InstanceId != self).InstanceId;
                throw new VolumeException(
                    $"volume \"{volume.Name}\" ({id}) is attached to instance {holder}; stop the containers using it there (or stop that instance), then remove it");
            }

            // Attached here but not mounted (the core only removes an unmounted volume): an Unmount that did not finish.
            await DetachAsync(id, self, force: false, cancellationToken);
        }

        try
        {
            _ = await Ec2Async("DeleteVolume", (ec2, t) => ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = id }, t), cancellationToken, "InvalidVolume.NotFound");
            LogDeleted(volume.Name, id);
        }
        catch (AmazonEC2Exception ex) when (ex.ErrorCode == "InvalidVolume.NotFound")
        {
        }

        _ = _lastAttachment.TryRemove(id, out _);
    }

    public Task PurgeAsync(VolumeRecord volume, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<BackingState> CheckAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        if (VolumeIdOf(volume) is not { } id)
        {
            return BackingState.Unknown;
        }

        try
        {
            return await DescribeAsync(id, cancellationToken) is { } found && found.State != VolumeState.Deleted ? BackingState.Present : BackingState.Gone;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Only EC2's "no such volume" is Gone; a refusal (credentials, throttling, network) says nothing about it.
            LogCheckFailed(ex, volume.Name, id);
            return BackingState.Unknown;
        }
    }

    public Task CollectGarbageAsync(IReadOnlyCollection<VolumeRecord> volumes, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<IReadOnlyList<DiscoveredVolume>?> DiscoverAsync(CancellationToken cancellationToken)
    {
        var found = new List<DiscoveredVolume>();
        string? next = null;
        do
        {
            var request = new DescribeVolumesRequest
            {
                Filters = [new Filter("tag:" + EbsTags.Cluster, [_settings.Cluster]), new Filter("tag-key", [EbsTags.VolumeName])],
                MaxResults = 500,
                NextToken = next,
            };
            var page = await Ec2Async("DescribeVolumes", (ec2, t) => ec2.DescribeVolumesAsync(request, t), cancellationToken);
            foreach (var v in page.Volumes ?? [])
            {
                Remember(v);
                if (v.State == VolumeState.Deleting || v.State == VolumeState.Deleted || TagOf(v, EbsTags.VolumeName) is not { } name)
                {
                    continue;
                }

                if (OptionsOf(v) is { } options)
                {
                    found.Add(new DiscoveredVolume(name, options, FactsOf(v), v.CreateTime is { } created ? new DateTimeOffset(created.ToUniversalTime(), TimeSpan.Zero) : DateTimeOffset.UnixEpoch));
                }
                else
                {
                    LogUnreadableOptions(v.VolumeId, name);
                }
            }

            next = page.NextToken;
        }
        while (!string.IsNullOrEmpty(next));

        return found;
    }

    public void AddStatus(VolumeRecord volume, IDictionary<string, string> status)
    {
        status[VolumeIdFact] = VolumeIdOf(volume) ?? "(not created yet)";
        status[ZoneFact] = volume.Facts.GetValueOrDefault(ZoneFact) ?? volume.Options.GetValueOrDefault(EbsOptions.AvailabilityZone) ?? "(the instance's)";
        status["type"] = volume.Options.GetValueOrDefault(EbsOptions.Type) ?? "gp3";
        status["size"] = volume.Options.TryGetValue(EbsOptions.Size, out var size) ? size + " GiB" : "(the snapshot's)";
        status["encrypted"] = volume.Options.GetValueOrDefault(EbsOptions.Encrypted) ?? "true";
        if (_attachedDevices.TryGetValue(volume.Name, out var device))
        {
            status["device"] = device;
        }

        if (VolumeIdOf(volume) is { } id && _lastAttachment.TryGetValue(id, out var attachment))
        {
            status["attachedTo"] = attachment;
        }
    }

    public void Dispose()
    {
        _metadata.Dispose();
        _ec2.Fetched?.Dispose();
        _ec2.Dispose();
    }

    /// <summary>What the pipeline retries: throttling, EC2's own failures, and the network.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        AmazonEC2Exception ec2 when ec2.ErrorCode is "RequestLimitExceeded" or "InternalError" or "ServiceUnavailable" or "Unavailable" => true,
        AmazonServiceException service when (int)service.StatusCode >= 500 => true,
        HttpRequestException or TimeoutException => true,
        AmazonClientException { InnerException: HttpRequestException or TimeoutException } => true,
        _ => false,
    };

    private CreateVolumeRequest CreateRequest(VolumeRecord volume, string zone)
    {
        var options = volume.Options;
        var tags = new List<Tag>
        {
            new(EbsTags.VolumeName, volume.Name),
            new(EbsTags.Managed, "true"),
            new(EbsTags.Cluster, _settings.Cluster),
            new(EbsTags.NameTag, volume.Name),
            new(EbsTags.FsType, options[EbsOptions.FsType]),
        };
        var chunks = EbsOptions.ToTagValues(options);
        tags.AddRange(chunks.Select((chunk, i) => new Tag(EbsTags.OptionsKey(i), chunk)));
        tags.AddRange(DiskTags.UserAndExtra(options, EbsOptions.Tags, _settings.ExtraTags).Select(t => new Tag(t.Key, t.Value)));

        var request = new CreateVolumeRequest
        {
            AvailabilityZone = zone,
            VolumeType = VolumeType.FindValue(options[EbsOptions.Type]),
            Encrypted = options[EbsOptions.Encrypted] == "true",
            ClientToken = _settings.ClientToken(volume.Name),
            TagSpecifications = [new TagSpecification { ResourceType = ResourceType.Volume, Tags = tags }],
        };
        if (options.TryGetValue(EbsOptions.Size, out var size))
        {
            request.Size = int.Parse(size, CultureInfo.InvariantCulture);
        }

        if (options.TryGetValue(EbsOptions.Iops, out var iops))
        {
            request.Iops = int.Parse(iops, CultureInfo.InvariantCulture);
        }

        if (options.TryGetValue(EbsOptions.Throughput, out var throughput))
        {
            request.Throughput = int.Parse(throughput, CultureInfo.InvariantCulture);
        }

        request.KmsKeyId = options.GetValueOrDefault(EbsOptions.KmsKeyId);
        request.SnapshotId = options.GetValueOrDefault(EbsOptions.SnapshotId);
        return request;
    }

    private async Task<Volume?> FindByNameAsync(string name, CancellationToken cancellationToken)
    {
        var request = new DescribeVolumesRequest
        {
            Filters = [new Filter("tag:" + EbsTags.Cluster, [_settings.Cluster]), new Filter("tag:" + EbsTags.VolumeName, [name])],
        };
        var answer = await Ec2Async("DescribeVolumes", (ec2, t) => ec2.DescribeVolumesAsync(request, t), cancellationToken);
        return (answer.Volumes ?? []).FirstOrDefault(v => v.State != VolumeState.Deleting && v.State != VolumeState.Deleted);
    }

    /// <summary>The volume, or null when EC2 says it does not exist.</summary>
    private async Task<Volume?> DescribeAsync(string volumeId, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await Ec2Async("DescribeVolumes",
                (ec2, t) => ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = [volumeId] }, t), cancellationToken, "InvalidVolume.NotFound");
            var found = answer.Volumes?.FirstOrDefault();
            if (found is not null)
            {
                Remember(found);
            }

            return found;
        }
        catch (AmazonEC2Exception ex) when (ex.ErrorCode == "InvalidVolume.NotFound")
        {
            return null;
        }
    }

    /// <summary>Polls the volume until <paramref name="done"/> holds, at most <paramref name="bound"/>.</summary>
    private async Task<Volume> WaitForStateAsync(
        string volumeId, string wanted, Func<Volume, bool> done, TimeSpan bound, CancellationToken cancellationToken, Func<bool>? hint = null)
    {
        var (found, reached) = await TryWaitForStateAsync(volumeId, done, bound, cancellationToken, hint);
        return reached
            ? found
            : throw new VolumeException(
                $"EBS volume {volumeId} did not become {wanted} within {bound.TotalSeconds:0} s (it is {found.State}{AttachmentText(found)}); repeat the call to keep waiting");
    }

    /// <summary>Polls the volume until <paramref name="done"/> holds or <paramref name="bound"/> passes; the volume as last seen.</summary>
    /// <param name="volumeId">The volume polled.</param>
    /// <param name="done">When to stop.</param>
    /// <param name="bound">How long at most.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <param name="hint">
    /// A local sign, free to check, that the state has likely changed (the attached device's link appeared): the next
    /// poll is made at once instead of after the backoff, once (<see cref="PollDelay"/>).
    /// </param>
    private async Task<(Volume Found, bool Done)> TryWaitForStateAsync(
        string volumeId, Func<Volume, bool> done, TimeSpan bound, CancellationToken cancellationToken, Func<bool>? hint = null)
    {
        var deadline = _time.GetUtcNow() + bound;
        var wait = new PollDelay(_time, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), hint);
        while (true)
        {
            var found = await DescribeAsync(volumeId, cancellationToken)
                ?? throw new VolumeException($"EBS volume {volumeId} no longer exists; was it deleted outside csvol?");
            if (done(found) || _time.GetUtcNow() >= deadline)
            {
                return (found, done(found));
            }

            await wait.WaitAsync(cancellationToken);
        }
    }

    private void Remember(Volume volume) =>
        _lastAttachment[volume.VolumeId] = volume.Attachments is { Count: > 0 } a
            ? $"{a[0].InstanceId} ({a[0].State} at {a[0].Device})"
            : "none";

    private static string AttachmentText(Volume volume) =>
        volume.Attachments is { Count: > 0 } a ? $", {a[0].State} to {a[0].InstanceId}" : "";

    /// <summary>One EC2 call through the pipeline; EC2's refusals become words a user can act on.</summary>
    /// <param name="action">The EC2 action, as IAM names it.</param>
    /// <param name="call">The call, given the client and the pipeline's token.</param>
    /// <param name="cancellationToken">Cancels the whole call, retries included.</param>
    /// <param name="expected">Error codes the caller handles itself; any other refusal becomes a <see cref="VolumeException"/>.</param>
    private async Task<T> Ec2Async<T>(
        string action, Func<AmazonEC2Client, CancellationToken, Task<T>> call, CancellationToken cancellationToken, params string[] expected)
    {
        var ec2 = await _ec2.GetAsync(cancellationToken);
        try
        {
            return await _pipeline.ExecuteAsync(async token => await call(ec2, token), cancellationToken);
        }
        catch (AmazonEC2Exception ex) when (ex.ErrorCode is "UnauthorizedOperation" or "AuthFailure")
        {
            throw new VolumeException($"AWS refused ec2:{action} ({ex.ErrorCode}): grant the plugin's credentials or instance role ec2:{action}", ex);
        }
        catch (AmazonEC2Exception ex) when (ex.ErrorCode is "VolumeLimitExceeded" or "MaxIOPSLimitExceeded" or "ResourceLimitExceeded")
        {
            throw new VolumeException($"EC2 refused {action}: {ex.ErrorCode}: {ex.Message} (an account limit; raise it or free volumes)", ex);
        }
        catch (Exception ex) when (IsTransient(ex) || BackendResilience.IsPipelineRefusal(ex))
        {
            throw new BackendUnavailableException($"EC2 {action} kept failing ({(ex as AmazonEC2Exception)?.ErrorCode ?? ex.GetType().Name}: {ex.Message}); nothing is known to have changed, repeat the call", ex);
        }
        catch (AmazonEC2Exception ex) when (Array.IndexOf(expected, ex.ErrorCode) < 0)
        {
            throw new VolumeException($"EC2 refused {action}: {ex.ErrorCode}: {ex.Message}", ex);
        }
    }

    /// <summary>The client, made on first need (<see cref="_ec2"/>); a failed region lookup (IMDS) is tried again next time.</summary>
    private async Task<AmazonEC2Client> CreateClientAsync(CancellationToken cancellationToken)
    {
        var region = _settings.Region ?? (await _metadata.GetAsync(cancellationToken)).Region;
        var config = new AmazonEC2Config { MaxErrorRetry = 0, Timeout = TimeSpan.FromSeconds(10) };
        if (_settings.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(region);
        }

        return _settings.AccessKeyId is { } key && _settings.SecretAccessKey is { } secret
            ? new AmazonEC2Client(_settings.SessionToken is { } session ? new SessionAWSCredentials(key, secret, session) : new BasicAWSCredentials(key, secret), config)
            : new AmazonEC2Client(config);
    }

    private static string? VolumeIdOf(VolumeRecord volume) => volume.Facts.GetValueOrDefault(VolumeIdFact);

    private static Dictionary<string, string> FactsOf(Volume volume) => new(StringComparer.Ordinal)
    {
        [VolumeIdFact] = volume.VolumeId,
        [ZoneFact] = volume.AvailabilityZone,
    };

    private static string? TagOf(Volume volume, string key) => volume.Tags?.FirstOrDefault(t => t.Key == key)?.Value;

    /// <summary>The options the creating host recorded, read back from the <c>csvol/options</c> tags.</summary>
    private static SortedDictionary<string, string>? OptionsOf(Volume volume) => DiskTags.FromTagValues(i => TagOf(volume, EbsTags.OptionsKey(i)));
}
