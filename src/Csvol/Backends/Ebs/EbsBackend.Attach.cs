using Amazon.EC2;
using Amazon.EC2.Model;
using Csvol.Backends.Disks;
using Csvol.Volumes;

namespace Csvol.Backends.Ebs;

/// <summary>Mount and Unmount: attach here (taking the volume over only from a stopped instance), prove the device, format once, mount.</summary>
internal sealed partial class EbsBackend
{
    private const int AttachAttempts = 8;

    /// <summary>Device names csvol attaches at: /dev/xvdba … /dev/xvdcz, clear of the names an AMI's own disks use.</summary>
    private static readonly string[] DeviceNames =
        [.. "bc".SelectMany(second => Enumerable.Range('a', 26).Select(last => "/dev/xvd" + second + (char)last))];

    /// <summary>Names an attach here failed with "in use": tried only after every other name.</summary>
    private readonly ConcurrentDictionaryOfNames _failedNames = new();

    public async Task MountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        var id = VolumeIdOf(volume)
            ?? throw new VolumeException($"volume \"{volume.Name}\" has no EBS volume id in its record; remove it and create it again");
        var self = await _metadata.GetAsync(cancellationToken);
        var attached = await AttachHereAsync(volume.Name, id, self, cancellationToken);
        var device = await _devices.FindAsync(
            id, attached.Attachments?.FirstOrDefault(a => a.InstanceId == self.InstanceId)?.Device, attached.Size ?? 0, cancellationToken);
        _attachedDevices[volume.Name] = device;
        await _formatOnce.MountAsync(
            new DiskToMount(volume.Name, id, device, volume.Options, TagOf(attached, EbsTags.Formatted), EbsTags.Formatted),
            mountpoint,
            (fsType, t) => Ec2Async("CreateTags", (ec2, t2) => ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [id], Tags = [new Tag(EbsTags.Formatted, fsType)] }, t2), t),
            cancellationToken);
    }

    public async Task UnmountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        _mounter.Unmount(mountpoint);
        _ = _attachedDevices.TryRemove(volume.Name, out _);
        if (VolumeIdOf(volume) is not { } id)
        {
            return;
        }

        var self = await _metadata.GetAsync(cancellationToken);
        if (await DescribeAsync(id, cancellationToken) is { } found && (found.Attachments ?? []).Any(a => a.InstanceId == self.InstanceId))
        {
            await DetachAsync(id, self.InstanceId, force: false, cancellationToken);
        }
    }

    /// <summary>The volume once it is attached to this instance: already, after a wait, or after attaching it.</summary>
    private async Task<Volume> AttachHereAsync(string name, string id, InstanceIdentity self, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < AttachAttempts; attempt++)
        {
            var found = await DescribeAsync(id, cancellationToken)
                ?? throw new VolumeException($"EBS volume {id} of volume \"{name}\" no longer exists; was it deleted outside csvol?");
            var attachment = found.Attachments?.FirstOrDefault();
            if (attachment is not null && attachment.InstanceId == self.InstanceId)
            {
                if (attachment.State == AttachmentStatus.Detaching)
                {
                    _ = await WaitForStateAsync(id, "detached", v => !(v.Attachments ?? []).Any(), _settings.AttachTimeout, cancellationToken);
                    continue;
                }

                return await WaitAttachedAsync(name, id, self.InstanceId, attachment.Device, cancellationToken);
            }

            if (attachment is not null)
            {
                var holderState = await InstanceStateAsync(attachment.InstanceId, cancellationToken);
                if (holderState is not ("stopped" or "terminated"))
                {
                    throw new VolumeException(
                        $"volume \"{name}\" ({id}) is attached to instance {attachment.InstanceId}, which is {holderState}; " +
                        "stop the container using it there (or stop that instance), then try again");
                }

                LogTakeover(name, id, attachment.InstanceId, holderState);
                await DetachAsync(id, attachment.InstanceId, force: true, cancellationToken);
                continue;
            }

            if (found.State == VolumeState.Creating)
            {
                _ = await WaitForStateAsync(id, "available", v => v.State != VolumeState.Creating, CreateBound, cancellationToken);
                continue;
            }

            if (found.AvailabilityZone != self.AvailabilityZone)
            {
                throw new VolumeException(
                    $"volume \"{name}\" ({id}) is in availability zone {found.AvailabilityZone} and this instance ({self.InstanceId}) in {self.AvailabilityZone}; " +
                    "an EBS volume can only be attached in its own zone");
            }

            var device = await FreeDeviceNameAsync(self.InstanceId, cancellationToken);
            try
            {
                _ = await Ec2Async("AttachVolume",
                    (ec2, t) => ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = id, InstanceId = self.InstanceId, Device = device }, t),
                    cancellationToken, "VolumeInUse", "IncorrectState", "InvalidParameterValue");
                LogAttaching(name, id, device);
                return await WaitAttachedAsync(name, id, self.InstanceId, device, cancellationToken);
            }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode == "InvalidParameterValue" && ex.Message.Contains("in use", StringComparison.OrdinalIgnoreCase))
            {
                _failedNames.Add(device);
            }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode == "InvalidParameterValue")
            {
                throw new VolumeException($"EC2 refused AttachVolume of {id} at {device}: {ex.Message}", ex);
            }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode is "VolumeInUse" or "IncorrectState")
            {
                // Someone attached it meanwhile, or it is between states: look again.
                LogAttachRaced(name, id, ex.ErrorCode);
            }
        }

        throw new VolumeException($"could not attach volume \"{name}\" ({id}) to {self.InstanceId} after {AttachAttempts} attempts; repeat the call");
    }

    /// <summary>
    /// Waits for the attachment to complete. One that stays "attaching" past the attach timeout is undone (detached)
    /// and its device name avoided here from then on: a stuck attach is most often a device name the instance still
    /// holds, and left alone it would block the volume on every host.
    /// </summary>
    private async Task<Volume> WaitAttachedAsync(string name, string id, string instanceId, string device, CancellationToken cancellationToken)
    {
        var (found, done) = await TryWaitForStateAsync(
            id, v => (v.Attachments ?? []).Any(a => a.InstanceId == instanceId && a.State == AttachmentStatus.Attached), _settings.AttachTimeout, cancellationToken);
        if (done)
        {
            return found;
        }

        var stuck = (found.Attachments ?? []).FirstOrDefault(a => a.InstanceId == instanceId);
        if (stuck?.State == AttachmentStatus.Attaching)
        {
            _failedNames.Add(device);
            LogAttachStuck(name, id, device, _settings.AttachTimeout.TotalSeconds);
            await DetachAsync(id, instanceId, force: false, cancellationToken);
            throw new VolumeException(
                $"EC2 left volume \"{name}\" ({id}) attaching to {instanceId} at {device} for {_settings.AttachTimeout.TotalSeconds:0} s; " +
                $"csvol detached it again and will not use {device} on this host before every other name; repeat the call ({EbsSettings.AttachTimeoutVariable} sets the wait)");
        }

        throw new VolumeException(
            $"EBS volume {id} did not become attached to {instanceId} within {_settings.AttachTimeout.TotalSeconds:0} s (it is {found.State}{AttachmentText(found)}); repeat the call to keep waiting");
    }

    private async Task DetachAsync(string id, string instanceId, bool force, CancellationToken cancellationToken)
    {
        try
        {
            _ = await Ec2Async("DetachVolume",
                (ec2, t) => ec2.DetachVolumeAsync(new DetachVolumeRequest { VolumeId = id, InstanceId = instanceId, Force = force }, t),
                cancellationToken, "IncorrectState", "InvalidAttachment.NotFound");
        }
        catch (AmazonEC2Exception ex) when (ex.ErrorCode is "IncorrectState" or "InvalidAttachment.NotFound")
        {
            // Already detached (or detaching): the wait below tells.
        }

        _ = await WaitForStateAsync(id, "detached from " + instanceId, v => !(v.Attachments ?? []).Any(a => a.InstanceId == instanceId), _settings.AttachTimeout, cancellationToken);
    }

    private async Task<string> InstanceStateAsync(string instanceId, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await Ec2Async("DescribeInstances",
                (ec2, t) => ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = [instanceId] }, t), cancellationToken, "InvalidInstanceID.NotFound");
            return (answer.Reservations ?? []).SelectMany(r => r.Instances ?? []).FirstOrDefault()?.State?.Name?.Value ?? "terminated";
        }
        catch (AmazonEC2Exception ex) when (ex.ErrorCode == "InvalidInstanceID.NotFound")
        {
            return "terminated";
        }
    }

    private async Task<string> FreeDeviceNameAsync(string instanceId, CancellationToken cancellationToken)
    {
        var answer = await Ec2Async("DescribeInstances",
            (ec2, t) => ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = [instanceId] }, t), cancellationToken);
        var used = (answer.Reservations ?? []).SelectMany(r => r.Instances ?? []).SelectMany(i => i.BlockDeviceMappings ?? [])
            .Select(m => m.DeviceName).ToHashSet(StringComparer.Ordinal);
        var free = DeviceNames.Where(n => !used.Contains(n)).ToList();
        return free.FirstOrDefault(n => !_failedNames.Contains(n)) ?? free.FirstOrDefault()
            ?? throw new VolumeException($"instance {instanceId} has no free device name left in {DeviceNames[0]}-{DeviceNames[^1]}");
    }

    /// <summary>A small thread-safe set of device names.</summary>
    private sealed class ConcurrentDictionaryOfNames
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _names = new(StringComparer.Ordinal);

        public void Add(string name) => _names[name] = true;

        public bool Contains(string name) => _names.ContainsKey(name);
    }
}
