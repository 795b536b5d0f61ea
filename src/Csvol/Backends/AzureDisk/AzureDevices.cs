using Csvol.Backends.Disks;
using Csvol.Volumes;

namespace Csvol.Backends.AzureDisk;

/// <summary>
/// Finds the block device of the data disk at a LUN and proves it by its size: the SCSI devices in sysfs with vendor
/// MSFT at that LUN, then the <c>disk/azure/scsi1/lun&lt;N&gt;</c> link; the SCSI hosts are rescanned when neither has
/// appeared after a while (a disk hot-added while the guest missed the event).
/// </summary>
internal sealed class AzureDevices(string deviceRoot, string sysfsRoot, TimeProvider time)
{
    private static readonly TimeSpan AppearBound = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RescanAfter = TimeSpan.FromSeconds(3);

    public async Task<string> FindAsync(string diskId, int lun, int sizeGiB, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var rescanned = false;
        var link = Path.Join(deviceRoot, "disk", "azure", "scsi1", "lun" + lun.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string? seen = null;
        while (true)
        {
            var byLink = DiskTools.Resolve(link);
            var candidates = ScsiDevices(lun).Append(byLink).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            var sized = new List<string>();
            foreach (var device in candidates)
            {
                var size = await DiskTools.SizeAsync(device, cancellationToken);
                if (size == (long)sizeGiB << 30)
                {
                    sized.Add(device);
                }
                else
                {
                    seen = $"{device} at LUN {lun} has {size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unreadable number of"} bytes, not the disk's {sizeGiB} GiB";
                }
            }

            if (sized.Count == 1 || (sized.Count > 1 && byLink is not null && sized.Contains(byLink)))
            {
                return sized.Count == 1 ? sized[0] : byLink!;
            }

            if (sized.Count > 1)
            {
                seen = $"{string.Join(" and ", sized)} both sit at LUN {lun} with the disk's size and {link} tells them not apart";
            }

            var waited = time.GetUtcNow() - started;
            if (!rescanned && waited >= RescanAfter && candidates.Count == 0)
            {
                Rescan();
                rescanned = true;
            }

            if (waited >= AppearBound)
            {
                throw new VolumeException(seen is null
                    ? $"disk {diskId} is attached at LUN {lun} but no device for it appeared within {AppearBound.TotalSeconds:0} s (no SCSI device with vendor MSFT at LUN {lun} under {sysfsRoot}/bus/scsi/devices, no {link}, even after a rescan); is /dev bind-mounted into the plugin?"
                    : $"refusing to use a device for disk {diskId}: {seen}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }

    /// <summary>Whether a device shows at <paramref name="lun"/> (the scsi1 link, or an MSFT SCSI device): a hint, not a proof.</summary>
    public bool Appeared(int lun) =>
        DiskTools.Resolve(Path.Join(deviceRoot, "disk", "azure", "scsi1", "lun" + lun.ToString(System.Globalization.CultureInfo.InvariantCulture))) is not null
        || ScsiDevices(lun).Any();

    /// <summary>The block devices of the SCSI devices with vendor MSFT at <paramref name="lun"/> (H:C:T:LUN).</summary>
    private IEnumerable<string> ScsiDevices(int lun)
    {
        var devices = Path.Join(sysfsRoot, "bus", "scsi", "devices");
        if (!Directory.Exists(devices))
        {
            yield break;
        }

        foreach (var scsi in Directory.EnumerateDirectories(devices, "*:*:*:" + lun.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            if (!string.Equals(Attribute(scsi, "vendor"), "MSFT", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var block = Path.Join(scsi, "block");
            foreach (var name in Directory.Exists(block) ? Directory.EnumerateDirectories(block).Select(Path.GetFileName) : [])
            {
                // The kernel name under the device root (/dev in production); the real /dev where a test's root has no node.
                if ((DiskTools.Resolve(Path.Join(deviceRoot, name)) ?? DiskTools.Resolve(Path.Join("/dev", name))) is { } device)
                {
                    yield return device;
                }
            }
        }
    }

    /// <summary>Asks every SCSI host to look for new devices, as <c>echo "- - -" &gt; scan</c> does.</summary>
    private void Rescan()
    {
        var hosts = Path.Join(sysfsRoot, "class", "scsi_host");
        foreach (var host in Directory.Exists(hosts) ? Directory.EnumerateDirectories(hosts) : [])
        {
            try
            {
                File.WriteAllText(Path.Join(host, "scan"), "- - -");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A host that cannot be scanned is not the one the disk is on, or the wait will say so.
            }
        }
    }

    private static string? Attribute(string directory, string name)
    {
        try
        {
            return File.ReadAllText(Path.Join(directory, name)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
