namespace Csvol.FakeCloud.Ec2;

internal sealed partial class Ec2Cloud
{
    private string AttachVolume(QueryRequest request, string requestId)
    {
        var id = request.Required("VolumeId");
        var instanceId = request.Required("InstanceId");
        var device = request.Required("Device");
        lock (_gate)
        {
            var volume = Volume(id);
            var instance = Instance(instanceId);
            if (volume.Attachment is { } existing)
            {
                throw new Ec2Error("VolumeInUse", $"{id} is already attached to an instance ({existing.InstanceId})");
            }

            if (volume.State != "available")
            {
                throw new Ec2Error("IncorrectState", $"{id} is not 'available'.");
            }

            if (instance.State is FakeInstanceState.Terminated or FakeInstanceState.ShuttingDown)
            {
                throw new Ec2Error("IncorrectInstanceState", $"The instance '{instanceId}' is not in a valid state for this operation.");
            }

            if (instance.AvailabilityZone != volume.AvailabilityZone)
            {
                throw new Ec2Error(
                    "InvalidVolume.ZoneMismatch",
                    $"The volume '{id}' is not in the same availability zone as instance '{instanceId}'");
            }

            if (_volumes.Values.Any(v => v.Attachment?.InstanceId == instanceId && v.Attachment.Device == device))
            {
                throw Ec2Error.Invalid($"Invalid value '{device}' for unixDevice. Attachment point {device} is already in use");
            }

            var attachment = new FakeAttachment { InstanceId = instanceId, Device = device, AttachTime = time.GetUtcNow() };
            volume.Attachment = attachment;
            volume.State = "in-use";
            Later(AttachDelay, AttachGate, token => CompleteAttachAsync(volume, attachment, token));
            return AttachmentAnswer("AttachVolume", requestId, id, attachment);
        }
    }

    private async Task CompleteAttachAsync(FakeVolume volume, FakeAttachment attachment, CancellationToken cancellationToken)
    {
        await _deviceLock.WaitAsync(cancellationToken);
        try
        {
            int size;
            lock (_gate)
            {
                if (volume.Attachment != attachment || attachment.State != "attaching")
                {
                    return;
                }

                size = volume.Size;
            }

            // The device exists before the API says "attached", as on EC2. Not cancellable: a loop device
            // made while disposing must still be recorded, or nothing would release it.
            var loop = _devices is null ? null : await _devices.AttachAsync(volume.Id, attachment.Device, size, CancellationToken.None);
            lock (_gate)
            {
                attachment.LoopDevice = loop;
                if (attachment.State == "attaching")
                {
                    // A detach asked for meanwhile stays "detaching" and completes later.
                    attachment.State = "attached";
                    AttachCompleted?.Invoke(volume.Id, System.Diagnostics.Stopwatch.GetTimestamp()); // under the lock: the time of the change
                }
            }
        }
        finally
        {
            _ = _deviceLock.Release();
        }
    }

    private string DetachVolume(QueryRequest request, string requestId)
    {
        var id = request.Required("VolumeId");
        var instanceId = request.Get("InstanceId");
        lock (_gate)
        {
            var volume = Volume(id);
            if (volume.Attachment is not { } attachment)
            {
                throw new Ec2Error("IncorrectState", $"Volume '{id}' is in the '{volume.State}' state.");
            }

            if (instanceId is not null && instanceId != attachment.InstanceId)
            {
                throw new Ec2Error("InvalidAttachment.NotFound", $"The volume {id} is not attached to instance {instanceId}");
            }

            if (attachment.State != "detaching")
            {
                // A forced detach of a stuck "attaching" volume is how EC2 users get out of it; it is allowed here too.
                attachment.State = "detaching";
                Later(DetachDelay, DetachGate, token => CompleteDetachAsync(volume, attachment, token));
            }

            return AttachmentAnswer("DetachVolume", requestId, id, attachment);
        }
    }

    private async Task CompleteDetachAsync(FakeVolume volume, FakeAttachment attachment, CancellationToken cancellationToken)
    {
        await _deviceLock.WaitAsync(cancellationToken);
        try
        {
            lock (_gate)
            {
                if (volume.Attachment != attachment || attachment.State != "detaching")
                {
                    return;
                }
            }

            if (_devices is not null && attachment.LoopDevice is { } loop)
            {
                await _devices.DetachAsync(volume.Id, attachment.Device, loop, CancellationToken.None);
                attachment.LoopDevice = null;
            }

            lock (_gate)
            {
                volume.Attachment = null;
                volume.State = "available";
            }
        }
        finally
        {
            _ = _deviceLock.Release();
        }
    }

    private static string AttachmentAnswer(string action, string requestId, string volumeId, FakeAttachment attachment)
    {
        using var xml = new Ec2Xml(action, requestId);
        xml.Element("volumeId", volumeId);
        xml.Element("instanceId", attachment.InstanceId);
        xml.Element("device", attachment.Device);
        xml.Element("status", attachment.State);
        xml.Element("attachTime", attachment.AttachTime);
        return xml.Finish();
    }
}
