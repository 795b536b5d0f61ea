using System.Globalization;

namespace Csvol.FakeCloud.Ec2;

internal sealed partial class Ec2Cloud
{
    private static readonly HashSet<string> VolumeTypes = ["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

    private string CreateVolume(QueryRequest request, string requestId)
    {
        var zone = request.Required("AvailabilityZone");
        var snapshotId = request.Get("SnapshotId");
        var type = request.Get("VolumeType") ?? "gp2";
        if (!VolumeTypes.Contains(type))
        {
            throw Ec2Error.Invalid($"Value ({type}) for parameter volumeType is invalid. Valid values: {string.Join(", ", VolumeTypes)}");
        }

        var tags = request.TagSpecifications("volume");
        var token = request.Get("ClientToken");
        var parameters = string.Join(
            '|',
            zone,
            request.Get("Size"),
            snapshotId,
            type,
            request.Get("Iops"),
            request.Get("Throughput"),
            request.Bool("Encrypted"),
            request.Get("KmsKeyId"),
            string.Join(',', tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}")));
        lock (_gate)
        {
            if (token is not null && _clientTokens.TryGetValue(token, out var earlierId))
            {
                // As EC2: a token stays bound to its volume after the volume is deleted, and is refused from then on.
                return !_volumes.TryGetValue(earlierId, out var earlier)
                    ? throw new Ec2Error("IdempotentParameterMismatch", "The client token you have provided is associated with a resource that is already deleted. Please use a different client token.")
                    : earlier.Request == parameters
                    ? VolumeAnswer("CreateVolume", requestId, earlier)
                    : throw new Ec2Error("IdempotentParameterMismatch", "Parameters on this idempotent request are inconsistent with parameters used in previous request(s).");
            }

            var snapshot = snapshotId is null ? null : _snapshots.GetValueOrDefault(snapshotId) ?? throw Ec2Error.SnapshotNotFound(snapshotId);
            var size = request.Int("Size") ?? snapshot?.VolumeSize ?? throw Ec2Error.Missing("Size");
            if (size < 1 || size > 16384)
            {
                throw Ec2Error.Invalid($"Volume of {size}GiB is outside the range 1-16384 GiB.");
            }

            if (snapshot is not null && size < snapshot.VolumeSize)
            {
                throw Ec2Error.Invalid($"Volume of {size}GiB is too small; minimum is {snapshot.VolumeSize}GiB.");
            }

            var volume = new FakeVolume
            {
                Id = NewId("vol"),
                AvailabilityZone = zone,
                CreateTime = time.GetUtcNow(),
                Size = size,
                VolumeType = type,
                Iops = request.Int("Iops"),
                Throughput = request.Int("Throughput"),
                Encrypted = request.Bool("Encrypted"),
                KmsKeyId = request.Get("KmsKeyId"),
                SnapshotId = snapshotId,
                Request = parameters,
            };
            foreach (var (key, value) in tags)
            {
                volume.Tags[key] = value;
            }

            _volumes[volume.Id] = volume;
            if (token is not null)
            {
                _clientTokens[token] = volume.Id;
            }

            Later(CreateDelay, gate: null, _ => MakeAvailable(volume, snapshot));
            return VolumeAnswer("CreateVolume", requestId, volume);
        }
    }

    private Task MakeAvailable(FakeVolume volume, FakeSnapshot? snapshot)
    {
        if (snapshot is not null && _devices is not null)
        {
            _devices.EnsureFile(volume.Id, volume.Size, copyFrom: _devices.DataFile(snapshot.Id));
        }

        lock (_gate)
        {
            if (volume.State == "creating")
            {
                volume.State = "available";
            }
        }

        return Task.CompletedTask;
    }

    private string DescribeVolumes(QueryRequest request, string requestId)
    {
        var ids = request.List("VolumeId");
        var filters = request.Filters();
        var maxResults = request.Int("MaxResults");
        if (maxResults is not null && ids.Count > 0)
        {
            throw Ec2Error.Invalid("The parameter volumeSet cannot be used with the parameter maxResults");
        }

        if (maxResults is < 5 or > 500)
        {
            throw Ec2Error.Invalid($"Value ( {maxResults} ) for parameter maxResults is invalid. Parameter must be between 5 and 500.");
        }

        var start = 0;
        if (request.Get("NextToken") is { } next && !int.TryParse(next, NumberStyles.None, CultureInfo.InvariantCulture, out start))
        {
            throw new Ec2Error("InvalidPaginationToken", $"Invalid pagination token: {next}");
        }

        lock (_gate)
        {
            var selected = ids.Count > 0 ? ids.Select(Volume).ToList() : [.. _volumes.Values.OrderBy(v => v.CreateTime).ThenBy(v => v.Id, StringComparer.Ordinal)];
            selected = [.. selected.Where(v => filters.All(f => VolumeMatches(v, f.Name, f.Values)))];
            var page = selected.Skip(start).Take(maxResults ?? int.MaxValue).ToList();
            using var xml = new Ec2Xml("DescribeVolumes", requestId);
            xml.Start("volumeSet");
            foreach (var volume in page)
            {
                xml.Start("item");
                WriteVolume(xml, volume);
                xml.End();
            }

            xml.End();
            if (start + page.Count < selected.Count)
            {
                xml.Element("nextToken", (start + page.Count).ToString(CultureInfo.InvariantCulture));
            }

            return xml.Finish();
        }
    }

    private static bool VolumeMatches(FakeVolume volume, string name, List<string> values)
    {
        bool Any(string? actual) => actual is not null && values.Contains(actual);
        return name switch
        {
            "volume-id" => Any(volume.Id),
            "status" => Any(volume.State),
            "availability-zone" => Any(volume.AvailabilityZone),
            "volume-type" => Any(volume.VolumeType),
            "size" => Any(volume.Size.ToString(CultureInfo.InvariantCulture)),
            "attachment.instance-id" => Any(volume.Attachment?.InstanceId),
            "attachment.status" => Any(volume.Attachment?.State),
            "attachment.device" => Any(volume.Attachment?.Device),
            "tag-key" => volume.Tags.Keys.Any(values.Contains),
            _ when name.StartsWith("tag:", StringComparison.Ordinal) => volume.Tags.TryGetValue(name[4..], out var value) && values.Contains(value),
            _ => throw Ec2Error.Invalid($"The filter '{name}' is invalid"),
        };
    }

    private string DeleteVolume(QueryRequest request, string requestId)
    {
        var id = request.Required("VolumeId");
        lock (_gate)
        {
            var volume = Volume(id);
            if (volume.Attachment is not null)
            {
                throw new Ec2Error("VolumeInUse", $"Volume {id} is currently attached to {volume.Attachment.InstanceId}");
            }

            _ = _volumes.Remove(id);
            volume.State = "deleted";
        }

        _devices?.DeleteFile(id);
        return ReturnTrue("DeleteVolume", requestId);
    }

    private async Task<string> ModifyVolumeAsync(QueryRequest request, string requestId, CancellationToken cancellationToken)
    {
        var id = request.Required("VolumeId");
        string? loop;
        int originalSize;
        FakeVolume volume;
        lock (_gate)
        {
            volume = Volume(id);
            if (volume.State is not ("available" or "in-use"))
            {
                throw new Ec2Error("IncorrectState", $"The volume '{id}' is not in the 'available' or 'in-use' state.");
            }

            originalSize = volume.Size;
            var size = request.Int("Size") ?? volume.Size;
            if (size < volume.Size)
            {
                throw Ec2Error.Invalid($"New size cannot be smaller than existing size ({volume.Size} GiB)");
            }

            volume.Size = size;
            volume.VolumeType = request.Get("VolumeType") ?? volume.VolumeType;
            volume.Iops = request.Int("Iops") ?? volume.Iops;
            volume.Throughput = request.Int("Throughput") ?? volume.Throughput;
        }

        if (_devices is not null && File.Exists(_devices.DataFile(id)))
        {
            await _deviceLock.WaitAsync(cancellationToken);
            try
            {
                _devices.EnsureFile(id, volume.Size, copyFrom: null);
                lock (_gate)
                {
                    loop = volume.Attachment?.LoopDevice;
                }

                if (loop is not null)
                {
                    await _devices.RefreshSizeAsync(loop, cancellationToken);
                }
            }
            finally
            {
                _ = _deviceLock.Release();
            }
        }

        using var xml = new Ec2Xml("ModifyVolume", requestId);
        xml.Start("volumeModification");
        xml.Element("volumeId", id);
        xml.Element("modificationState", "modifying");
        xml.Element("targetSize", volume.Size);
        xml.Element("originalSize", originalSize);
        xml.Element("targetVolumeType", volume.VolumeType);
        xml.Element("startTime", time.GetUtcNow());
        xml.End();
        return xml.Finish();
    }

    private string CreateTags(QueryRequest request, string requestId)
    {
        var ids = request.List("ResourceId");
        if (ids.Count == 0)
        {
            throw Ec2Error.Missing("ResourceId");
        }

        var tags = request.Tags("Tag");
        lock (_gate)
        {
            // All or nothing: check every resource before changing any.
            var targets = ids.Select(id => id.StartsWith("snap-", StringComparison.Ordinal)
                ? (_snapshots.GetValueOrDefault(id) ?? throw Ec2Error.SnapshotNotFound(id)).Tags
                : Volume(id).Tags).ToList();
            foreach (var target in targets)
            {
                foreach (var (key, value) in tags)
                {
                    target[key] = value;
                }
            }
        }

        return ReturnTrue("CreateTags", requestId);
    }

    private static string VolumeAnswer(string action, string requestId, FakeVolume volume)
    {
        using var xml = new Ec2Xml(action, requestId);
        WriteVolume(xml, volume);
        return xml.Finish();
    }

    private static void WriteVolume(Ec2Xml xml, FakeVolume volume)
    {
        xml.Element("volumeId", volume.Id);
        xml.Element("size", volume.Size);
        xml.Element("snapshotId", volume.SnapshotId ?? "");
        xml.Element("availabilityZone", volume.AvailabilityZone);
        xml.Element("status", volume.State);
        xml.Element("createTime", volume.CreateTime);
        xml.Start("attachmentSet");
        if (volume.Attachment is { } attachment)
        {
            xml.Start("item");
            xml.Element("volumeId", volume.Id);
            xml.Element("instanceId", attachment.InstanceId);
            xml.Element("device", attachment.Device);
            xml.Element("status", attachment.State);
            xml.Element("attachTime", attachment.AttachTime);
            xml.Element("deleteOnTermination", value: false);
            xml.End();
        }

        xml.End();
        xml.TagSet(volume.Tags);
        xml.Element("volumeType", volume.VolumeType);
        xml.Element("iops", volume.Iops);
        xml.Element("throughput", volume.Throughput);
        xml.Element("encrypted", volume.Encrypted);
        xml.Element("kmsKeyId", volume.KmsKeyId);
        xml.Element("multiAttachEnabled", value: false);
    }

    private static string ReturnTrue(string action, string requestId)
    {
        using var xml = new Ec2Xml(action, requestId);
        xml.Element("return", value: true);
        return xml.Finish();
    }
}
