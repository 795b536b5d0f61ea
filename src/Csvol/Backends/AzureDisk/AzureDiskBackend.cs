using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Csvol.Backends.Disks;
using Csvol.Mounting;
using Csvol.Resilience;
using Csvol.Volumes;
using Polly;

namespace Csvol.Backends.AzureDisk;

/// <summary>
/// <c>csvol/azuredisk</c>: one Azure managed disk per Docker volume, found by its tags in the resource group,
/// attached by LUN to the VM that mounts it and detached when the last container there lets go, so that it can follow
/// the container to another VM.
/// </summary>
/// <remarks>
/// Every ARM call runs through the <see cref="PipelineName"/> pipeline (the SDK's own retries are off); long-running
/// operations are started, then polled through the pipeline one status request at a time, each wait bounded. The disk's
/// name is derived from cluster and volume name, so a repeated Create finds (PUTs) the same disk. The VM is asked who it
/// is (IMDS) on first need, never at start-up.
/// </remarks>
internal sealed partial class AzureDiskBackend : IVolumeBackend, IDisposable
{
    public const string BackendName = "azuredisk";
    public const string PipelineName = "csvol-azuredisk";
    public const string DiskIdFact = "diskId";
    public const string ZoneFact = "zone";

    private static readonly TimeSpan CreateBound = TimeSpan.FromSeconds(180);

    private readonly AzureDiskSettings _settings;
    private readonly ResiliencePipeline _pipeline;
    private readonly IMounter _mounter;
    private readonly FormatOnce _formatOnce;
    private readonly TimeProvider _time;
    private readonly ILogger<AzureDiskBackend> _logger;
    private readonly AzureMetadata _metadata;
    private readonly AzureDevices _devices;
    private readonly FetchOnce<ArmScope> _arm;
    private readonly ConcurrentDictionary<string, string> _attachedDevices = new(StringComparer.Ordinal);

    /// <summary>Where each disk (by name) was attached when ARM last described it (a GET or a discovery).</summary>
    private readonly ConcurrentDictionary<string, string> _lastAttachment = new(StringComparer.OrdinalIgnoreCase);

    public AzureDiskBackend(
        AzureDiskSettings settings, ResiliencePipeline pipeline, IMounter mounter, FormatOnce formatOnce, TimeProvider time, ILogger<AzureDiskBackend> logger)
    {
        _settings = settings;
        _pipeline = pipeline;
        _mounter = mounter;
        _formatOnce = formatOnce;
        _time = time;
        _logger = logger;
        _metadata = new AzureMetadata(settings.ImdsUrl);
        _devices = new AzureDevices(settings.DeviceRoot, settings.SysfsRoot, time);
        _arm = new FetchOnce<ArmScope>(CreateScopeAsync);
    }

    public string Name => BackendName;

    public VolumeScope Scope => VolumeScope.Global;

    public IReadOnlyList<VolumeOptionSpec> Options => AzureDiskOptions.Specs;

    public string? CheckCombination(IReadOnlyDictionary<string, string> options) =>
        AzureDiskOptions.CheckCombination(options, AzureDiskTags.FixedCount + _settings.ExtraTags.Count);

    public async Task<CreateResult> CreateAsync(VolumeRecord volume, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken)
    {
        var diskName = DiskNameOf(volume.Name);
        if (await GetDiskAsync(diskName, cancellationToken) is { } existing)
        {
            return Adopt(volume, existing);
        }

        var vm = await _metadata.GetAsync(cancellationToken);
        var data = DiskData(volume, vm);
        var (arm, subscription, group) = await ClientAsync(cancellationToken);
        var disks = arm.GetResourceGroupResource(ResourceGroupResource.CreateResourceIdentifier(subscription, group)).GetManagedDisks();
        var operation = await ArmAsync("Microsoft.Compute/disks/write",
            t => disks.CreateOrUpdateAsync(WaitUntil.Started, diskName, data, t), cancellationToken);
        var created = await CompleteAsync("Microsoft.Compute/disks/write", operation, CreateBound, cancellationToken);
        LogCreated(volume.Name, created.Id.ToString(), data.Zones.FirstOrDefault() ?? "(no zone)");

        // Two hosts creating one name at once PUT the same disk: the tags tell whose options it carries now.
        return OptionsOf(created.Data) is { } options && DiskTags.Same(options, volume.Options)
            ? new CreateResult(FactsOf(created.Data), Adopted: false)
            : throw new VolumeException(
                $"disk {diskName} for \"{volume.Name}\" was created meanwhile by another host with other options: " +
                $"{DiskTags.Difference(OptionsOf(created.Data) ?? new SortedDictionary<string, string>(), volume.Options)}; create it with the same options or remove it first");
    }

    public async Task RemoveAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        if (await GetDiskAsync(DiskNameOf(volume.Name), cancellationToken) is not { } disk)
        {
            return;
        }

        if (disk.Data.ManagedBy is { } holder)
        {
            var self = await _metadata.GetAsync(cancellationToken);
            if (!SameVm(holder, self))
            {
                throw new VolumeException(
                    $"volume \"{volume.Name}\" (disk {disk.Data.Name}) is attached to VM {holder.Name}; stop the containers using it there (or stop that VM), then remove it");
            }

            // Attached here but not mounted (the core only removes an unmounted volume): an Unmount that did not finish.
            await DetachAsync(volume.Name, disk, holder, cancellationToken);
        }

        try
        {
            var operation = await ArmAsync("Microsoft.Compute/disks/delete", t => disk.DeleteAsync(WaitUntil.Started, t), cancellationToken, status => status == 404);
            await CompleteAsync("Microsoft.Compute/disks/delete", operation, CreateBound, cancellationToken);
            LogDeleted(volume.Name, disk.Id.ToString());
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }

        _ = _lastAttachment.TryRemove(disk.Data.Name, out _);
    }

    public Task PurgeAsync(VolumeRecord volume, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<BackingState> CheckAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        try
        {
            return await GetDiskAsync(DiskNameOf(volume.Name), cancellationToken) is not null ? BackingState.Present : BackingState.Gone;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Only ARM's "no such disk" is Gone; a refusal (credentials, throttling, network) says nothing about it.
            LogCheckFailed(ex, volume.Name);
            return BackingState.Unknown;
        }
    }

    public Task CollectGarbageAsync(IReadOnlyCollection<VolumeRecord> volumes, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task<IReadOnlyList<DiscoveredVolume>?> DiscoverAsync(CancellationToken cancellationToken)
    {
        var (arm, subscription, group) = await ClientAsync(cancellationToken);
        var disks = arm.GetResourceGroupResource(ResourceGroupResource.CreateResourceIdentifier(subscription, group)).GetManagedDisks();
        var all = await ArmAsync("Microsoft.Compute/disks/read", async t =>
        {
            var found = new List<ManagedDiskData>();
            await foreach (var disk in disks.GetAllAsync(t))
            {
                found.Add(disk.Data);
            }

            return found;
        }, cancellationToken);

        var volumes = new List<DiscoveredVolume>();
        foreach (var data in all)
        {
            if (TagOf(data, AzureDiskTags.Cluster) != _settings.Cluster || TagOf(data, AzureDiskTags.VolumeName) is not { } name)
            {
                continue;
            }

            Remember(data);
            if (OptionsOf(data) is { } options)
            {
                volumes.Add(new DiscoveredVolume(name, options, FactsOf(data), data.TimeCreated ?? DateTimeOffset.UnixEpoch));
            }
            else
            {
                LogUnreadableOptions(data.Name, name);
            }
        }

        return volumes;
    }

    public void AddStatus(VolumeRecord volume, IDictionary<string, string> status)
    {
        status[DiskIdFact] = volume.Facts.GetValueOrDefault(DiskIdFact) ?? "(not created yet)";
        status[ZoneFact] = volume.Facts.GetValueOrDefault(ZoneFact) ?? "(none)";
        status["sku"] = volume.Options.GetValueOrDefault(AzureDiskOptions.Sku) ?? AzureDiskOptions.StandardSsdLrs;
        status["size"] = volume.Options.TryGetValue(AzureDiskOptions.Size, out var size) ? size + " GiB" : "(the snapshot's)";
        if (_attachedDevices.TryGetValue(volume.Name, out var device) && _attachedLuns.TryGetValue(volume.Name, out var lun))
        {
            status["device"] = device;
            status["lun"] = lun.ToString(CultureInfo.InvariantCulture);
        }

        if (_lastAttachment.TryGetValue(DiskNameOf(volume.Name), out var attachment))
        {
            status["attachedTo"] = attachment;
        }
    }

    public void Dispose()
    {
        _metadata.Dispose();
        _arm.Dispose();
        _vmUpdates.Dispose();
    }

    /// <summary>What the pipeline retries: throttling, ARM's own failures, and the network.</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        RequestFailedException { Status: 0 or 408 or 429 or >= 500 } => true,
        HttpRequestException or TimeoutException => true,
        _ => false,
    };

    /// <summary>The wait a 429 (or 503) asks for in Retry-After (seconds), if any.</summary>
    public static TimeSpan? RetryAfter(Exception exception) =>
        exception is RequestFailedException failed
        && failed.GetRawResponse() is { } response
        && response.Headers.TryGetValue("Retry-After", out var text)
        && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : null;

    /// <summary>
    /// The disk's name: the volume name and a hash of cluster and name, so two clusters in one resource group never
    /// share a disk, and a repeated Create finds the same one. Azure allows 1-80 characters.
    /// </summary>
    public string DiskNameOf(string volumeName)
    {
        const int hashLength = 8;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(_settings.Cluster + "/" + volumeName)))[..hashLength];
        return volumeName.Length + 1 + hashLength <= 80
            ? volumeName + "-" + hash
            : throw new VolumeException($"volume name \"{volumeName}\" is {volumeName.Length} characters; an Azure disk volume name may have at most {80 - 1 - hashLength}");
    }

    private CreateResult Adopt(VolumeRecord volume, ManagedDiskResource existing)
    {
        if (TagOf(existing.Data, AzureDiskTags.VolumeName) != volume.Name || TagOf(existing.Data, AzureDiskTags.Cluster) != _settings.Cluster)
        {
            throw new VolumeException(
                $"a disk named {existing.Data.Name} exists in the resource group but is not csvol's volume \"{volume.Name}\" of cluster \"{_settings.Cluster}\"; remove or rename it");
        }

        var options = OptionsOf(existing.Data);
        return options is not null && DiskTags.Same(options, volume.Options)
            ? new CreateResult(FactsOf(existing.Data), Adopted: true)
            : throw new VolumeException(options is null
                ? $"disk {existing.Data.Name} is tagged {AzureDiskTags.VolumeName}={volume.Name} but carries no readable {AzureDiskTags.Options} tag; remove or retag it"
                : $"disk {existing.Data.Name} for \"{volume.Name}\" already exists with other options: {DiskTags.Difference(options, volume.Options)}; create it with the same options or remove it first");
    }

    private ManagedDiskData DiskData(VolumeRecord volume, VmIdentity vm)
    {
        var options = volume.Options;
        var sku = options[AzureDiskOptions.Sku];
        var snapshot = options.GetValueOrDefault(AzureDiskOptions.SourceSnapshot);
        var data = new ManagedDiskData(new AzureLocation(vm.Location))
        {
            Sku = new DiskSku { Name = new DiskStorageAccountType(sku) },
            CreationData = snapshot is null
                ? new DiskCreationData(DiskCreateOption.Empty)
                : new DiskCreationData(DiskCreateOption.Copy) { SourceResourceId = new ResourceIdentifier(snapshot) },
        };
        if (options.TryGetValue(AzureDiskOptions.Size, out var size))
        {
            data.DiskSizeGB = int.Parse(size, CultureInfo.InvariantCulture);
        }

        if (options.TryGetValue(AzureDiskOptions.DiskIops, out var iops))
        {
            data.DiskIopsReadWrite = long.Parse(iops, CultureInfo.InvariantCulture);
        }

        if (options.TryGetValue(AzureDiskOptions.DiskMBps, out var mbps))
        {
            data.DiskMBpsReadWrite = long.Parse(mbps, CultureInfo.InvariantCulture);
        }

        if (options.TryGetValue(AzureDiskOptions.DiskEncryptionSetId, out var des))
        {
            data.Encryption = new DiskEncryption
            {
                DiskEncryptionSetId = new ResourceIdentifier(des),
                EncryptionType = ComputeEncryptionType.EncryptionAtRestWithCustomerKey,
            };
        }

        if ((options.GetValueOrDefault(AzureDiskOptions.Zone) ?? (sku.EndsWith("_ZRS", StringComparison.Ordinal) ? null : vm.Zone)) is { } zone)
        {
            data.Zones.Add(zone);
        }

        data.Tags[AzureDiskTags.VolumeName] = volume.Name;
        data.Tags[AzureDiskTags.Managed] = "true";
        data.Tags[AzureDiskTags.Cluster] = _settings.Cluster;
        data.Tags[AzureDiskTags.FsType] = options[DiskOptions.FsType];
        var chunks = AzureDiskOptions.ToTagValues(options);
        for (var i = 0; i < chunks.Count; i++)
        {
            data.Tags[AzureDiskTags.OptionsKey(i)] = chunks[i];
        }

        foreach (var (key, value) in DiskTags.UserAndExtra(options, AzureDiskOptions.Tags, _settings.ExtraTags))
        {
            data.Tags[key] = value;
        }

        return data;
    }

    private async Task<ManagedDiskResource?> GetDiskAsync(string diskName, CancellationToken cancellationToken)
    {
        var (arm, subscription, group) = await ClientAsync(cancellationToken);
        var disk = arm.GetManagedDiskResource(ManagedDiskResource.CreateResourceIdentifier(subscription, group, diskName));
        try
        {
            var found = (await ArmAsync("Microsoft.Compute/disks/read", t => disk.GetAsync(t), cancellationToken, status => status == 404)).Value;
            Remember(found.Data);
            return found;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            _ = _lastAttachment.TryRemove(diskName, out _);
            return null;
        }
    }

    /// <summary>Polls a started operation, one status request at a time through the pipeline, until it is done or <paramref name="bound"/> passes.</summary>
    private async Task<T> CompleteAsync<T>(string action, ArmOperation<T> operation, TimeSpan bound, CancellationToken cancellationToken)
    {
        await CompleteAsync(action, (Operation)operation, bound, cancellationToken);
        return operation.Value;
    }

    private async Task CompleteAsync(string action, Operation operation, TimeSpan bound, CancellationToken cancellationToken, Func<bool>? hint = null)
    {
        if (!await TryCompleteAsync(action, operation, bound, cancellationToken, hint))
        {
            throw new VolumeException($"Azure did not finish {action} within {bound.TotalSeconds:0} s; the operation may still complete, repeat the call to look again");
        }
    }

    /// <returns>Whether the operation finished (successfully: a failed one throws) within <paramref name="bound"/>.</returns>
    /// <param name="action">The operation, for messages.</param>
    /// <param name="operation">The started operation.</param>
    /// <param name="bound">How long at most.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <param name="hint">A local sign that it is likely done (the device at the LUN appeared or went): look at once.</param>
    private async Task<bool> TryCompleteAsync(string action, Operation operation, TimeSpan bound, CancellationToken cancellationToken, Func<bool>? hint = null)
    {
        var deadline = _time.GetUtcNow() + bound;
        var wait = OperationPoll(hint);
        while (!operation.HasCompleted)
        {
            if (_time.GetUtcNow() >= deadline)
            {
                return false;
            }

            await wait.WaitAsync(cancellationToken);
            _ = await ArmAsync(action, async t => await operation.UpdateStatusAsync(t), cancellationToken);
        }

        return true;
    }

    /// <summary>The wait between two looks at an operation or at what it changes: 100 ms, growing 1.5× to 2 s.</summary>
    private PollDelay OperationPoll(Func<bool>? hint = null) => new(_time, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), hint);

    /// <summary>One ARM call through the pipeline; ARM's refusals become words a user can act on.</summary>
    /// <param name="permission">The Azure RBAC action the call needs.</param>
    /// <param name="call">The call, given the pipeline's token.</param>
    /// <param name="cancellationToken">Cancels the whole call, retries included.</param>
    /// <param name="expected">Statuses the caller handles itself; any other refusal becomes a <see cref="VolumeException"/>.</param>
    private async Task<T> ArmAsync<T>(string permission, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken, Func<int, bool>? expected = null)
    {
        try
        {
            return await _pipeline.ExecuteAsync(async token => await call(token), cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 401 or 403)
        {
            throw new VolumeException(
                $"Azure refused {permission} ({ex.ErrorCode ?? ex.Status.ToString(CultureInfo.InvariantCulture)}): grant the plugin's identity {permission} on the resource group", ex);
        }
        catch (AuthenticationFailedException ex)
        {
            throw new VolumeException(
                $"csvol could not get a token for Azure Resource Manager ({FirstLine(ex.Message)}); give the VM a managed identity, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET", ex);
        }
        catch (Exception ex) when (IsTransient(ex) || BackendResilience.IsPipelineRefusal(ex))
        {
            throw new BackendUnavailableException(
                $"Azure {permission} kept failing ({(ex as RequestFailedException)?.ErrorCode ?? ex.GetType().Name}: {FirstLine(ex.Message)}); nothing is known to have changed, repeat the call", ex);
        }
        catch (RequestFailedException ex) when (expected is null || !expected(ex.Status))
        {
            var limit = ex.ErrorCode is { } code && code.Contains("Quota", StringComparison.OrdinalIgnoreCase) ? " (a subscription limit; raise it or free disks)" : "";
            throw new VolumeException($"Azure refused {permission}: {ex.ErrorCode ?? ex.Status.ToString(CultureInfo.InvariantCulture)}: {FirstLine(ex.Message)}{limit}", ex);
        }
    }

    /// <summary>The client and its scope, made on first need (subscription and resource group from settings, else IMDS); a failure is tried again next time.</summary>
    private async Task<(ArmClient Arm, string Subscription, string ResourceGroup)> ClientAsync(CancellationToken cancellationToken)
    {
        var scope = await _arm.GetAsync(cancellationToken);
        return (scope.Arm, scope.Subscription, scope.ResourceGroup);
    }

    private async Task<ArmScope> CreateScopeAsync(CancellationToken cancellationToken)
    {
        var subscription = _settings.SubscriptionId;
        var group = _settings.ResourceGroup;
        if (subscription is null || group is null)
        {
            var vm = await _metadata.GetAsync(cancellationToken);
            subscription ??= vm.SubscriptionId;
            group ??= vm.ResourceGroup;
        }

        return new ArmScope(CreateClient(subscription), subscription, group);
    }

    private ArmClient CreateClient(string subscription)
    {
        var handler = new SocketsHttpHandler { UseProxy = false };
        if (_settings.ArmCertificateAuthority is { } authority)
        {
            // The configured CA and nothing else: a private endpoint or a test ARM, never "trust anything".
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                CustomTrustStore = { authority },
            };
        }

        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(_settings.ArmUrl, "https://management.azure.com"),
            Transport = new HttpClientTransport(handler),
        };
        options.Retry.MaxRetries = 0; // the pipeline retries; nothing doubles it
        TokenCredential credential = _settings is { TenantId: { } tenant, ClientId: { } client, ClientSecret: { } secret }
            ? new ClientSecretCredential(tenant, client, secret)
            : new ManagedIdentityCredential(_settings.ClientId is { } id ? ManagedIdentityId.FromUserAssignedClientId(id) : ManagedIdentityId.SystemAssigned);
        return new ArmClient(credential, subscription, options);
    }

    private void Remember(ManagedDiskData disk)
    {
        _lastAttachment[disk.Name] = disk.ManagedBy is { } vm ? $"{vm.Name} ({disk.DiskState?.ToString() ?? "attached"})" : "none";
    }

    private static bool SameVm(ResourceIdentifier vm, VmIdentity self) =>
        string.Equals(vm.ToString().TrimEnd('/'), self.ResourceId, StringComparison.OrdinalIgnoreCase);

    private static Dictionary<string, string> FactsOf(ManagedDiskData disk)
    {
        var facts = new Dictionary<string, string>(StringComparer.Ordinal) { [DiskIdFact] = disk.Id?.ToString() ?? disk.Name };
        if (disk.Zones.FirstOrDefault() is { } zone)
        {
            facts[ZoneFact] = zone;
        }

        return facts;
    }

    private static string? TagOf(ManagedDiskData disk, string key) => disk.Tags.TryGetValue(key, out var value) ? value : null;

    /// <summary>The options the creating host recorded, read back from the <c>csvol-options</c> tags.</summary>
    private static SortedDictionary<string, string>? OptionsOf(ManagedDiskData disk) => DiskTags.FromTagValues(i => TagOf(disk, AzureDiskTags.OptionsKey(i)));

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>The ARM client and the subscription and resource group it works in.</summary>
    private sealed record ArmScope(ArmClient Arm, string Subscription, string ResourceGroup);
}
