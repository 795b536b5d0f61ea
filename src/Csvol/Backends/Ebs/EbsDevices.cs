using Csvol.Backends.Disks;
using Csvol.Volumes;

namespace Csvol.Backends.Ebs;

/// <summary>
/// Finds an attached volume's block device and proves it is that volume (its NVMe serial; on Xen its name and size).
/// </summary>
internal sealed class EbsDevices(string deviceRoot, string sysfsRoot, TimeProvider time)
{
    /// <summary>How long an attached volume's device may take to appear (udev, the NVMe driver).</summary>
    private static readonly TimeSpan AppearBound = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The device of <paramref name="volumeId"/>, attached as <paramref name="deviceName"/>, once it is proven to be that
    /// volume: on Nitro by its NVMe serial; on Xen, whose block devices carry no serial, by being the very name EC2
    /// reports for the attachment, a Xen virtual block device, and exactly the volume's size.
    /// </summary>
    public async Task<string> FindAsync(string volumeId, string? deviceName, int sizeGiB, CancellationToken cancellationToken)
    {
        var serial = volumeId.Replace("-", "", StringComparison.Ordinal); // vol-0123… is serial vol0123…
        var byId = Path.Join(deviceRoot, "disk", "by-id", "nvme-Amazon_Elastic_Block_Store_" + serial);
        var byName = deviceName is null ? null : Path.Join(deviceRoot, Path.GetFileName(deviceName));
        var candidates = byName is null ? [byId] : new[] { byId, byName };

        var deadline = time.GetUtcNow() + AppearBound;
        string? seen = null;
        while (true)
        {
            foreach (var candidate in candidates)
            {
                if (DiskTools.Resolve(candidate) is not { } device)
                {
                    continue;
                }

                var found = DeviceAttribute(device, "serial");
                if (found == serial)
                {
                    return device;
                }

                if (found is null && candidate == byName && DeviceAttribute(device, "devtype") == "vbd")
                {
                    var size = await DiskTools.SizeAsync(device, cancellationToken);
                    if (size == (long)sizeGiB << 30)
                    {
                        return device;
                    }

                    seen = $"{candidate} is Xen block device {device} of {size} bytes, not the volume's {sizeGiB} GiB";
                    continue;
                }

                seen = $"{candidate} is {device}, whose serial is {(found is null ? "unreadable" : "\"" + found + "\"")}, not \"{serial}\"";
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new VolumeException(seen is null
                    ? $"volume {volumeId} is attached but no device for it appeared within {AppearBound.TotalSeconds:0} s ({string.Join(" or ", candidates)}); is /dev bind-mounted into the plugin?"
                    : $"refusing to use a device for volume {volumeId}: {seen}; the device links are stale or point at another disk");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }

    /// <summary>An attribute of the device's sysfs device directory ("serial" on NVMe; "devtype" is "vbd" on Xen), or null.</summary>
    private string? DeviceAttribute(string device, string name)
    {
        try
        {
            return File.ReadAllText(Path.Join(sysfsRoot, "block", Path.GetFileName(device), "device", name)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
