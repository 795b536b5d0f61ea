using System.Globalization;
using Csvol.Volumes;

namespace Csvol.Backends.Nfs;

internal sealed partial class NfsBackend
{
    public void AddStatus(VolumeRecord volume, IDictionary<string, string> status)
    {
        var location = NfsOptions.LocationOf(volume.Name, volume.Options);
        status["server"] = location.Export.Server;
        status["export"] = location.Export.Share;
        status["subdir"] = location.Subdir;
        status["options"] = string.Join(',', MountOptionsOf(volume));
        if (_mountpoints.TryGetValue(volume.Name, out var mountpoint))
        {
            if (_usage.TryGetValue(volume.Name, out var usage))
            {
                status["usage"] = usage;
            }

            ReadUsageInBackground(volume.Name, mountpoint); // never here: statfs blocks on a dead server
        }
    }

    /// <summary>The options mount.nfs gets for a volume: csvol's defaults, the plugin's, the volume's.</summary>
    public IReadOnlyList<string> MountOptionsOf(VolumeRecord volume) =>
        NfsMountOptions.Effective(_settings.Options, volume.Options.GetValueOrDefault(NfsOptions.MountOptions));

    private void ReadUsageInBackground(string name, string mountpoint)
    {
        if (!_usageReading.TryAdd(name, true))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var (total, free) = await _watchdog.RunAsync(() =>
                {
                    var drive = new DriveInfo(mountpoint);
                    return (drive.TotalSize, drive.AvailableFreeSpace);
                }, _settings.StepTimeout, () => new TimeoutException(), CancellationToken.None).ConfigureAwait(false);
                if (_mountpoints.ContainsKey(name))
                {
                    _usage[name] = string.Create(CultureInfo.InvariantCulture,
                        $"{(total - free) / (1024.0 * 1024):0.0} MiB used of {total / (1024.0 * 1024):0.0} MiB (the export's file system)");
                }
            }
            catch (Exception ex) when (ex is TimeoutException or IOException or UnauthorizedAccessException)
            {
                // Usage is a courtesy of inspect; the next inspect asks again.
            }
            finally
            {
                _ = _usageReading.TryRemove(name, out _);
            }
        }, CancellationToken.None);
    }
}
