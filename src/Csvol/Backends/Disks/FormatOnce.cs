using Csvol.Linux;
using Csvol.Mounting;
using Csvol.Volumes;

namespace Csvol.Backends.Disks;

/// <summary>A cloud disk's device, proven to be the disk, ready to be mounted.</summary>
/// <param name="VolumeName">The Docker volume's name.</param>
/// <param name="DiskId">The cloud's id of the disk (vol-…, a disk resource id), for messages.</param>
/// <param name="Device">The block device.</param>
/// <param name="Options">The volume's normalised options (<see cref="DiskOptions"/>: fsType, uid, gid, mode).</param>
/// <param name="FormattedMark">The disk's "formatted" tag as the cloud shows it: the file system csvol made, or null if never.</param>
/// <param name="MarkName">That tag's name, for messages.</param>
internal sealed record DiskToMount(
    string VolumeName, string DiskId, string Device, IReadOnlyDictionary<string, string> Options, string? FormattedMark, string MarkName);

/// <summary>
/// Mounts a cloud disk, formatting it only when it is blank by every test AND was never formatted: a disk carrying
/// the "formatted" mark that reads blank is refused, never formatted again (real plugins have destroyed data when
/// blkid answered before the device was readable), and so is one where wipefs finds any signature blkid's TYPE
/// misses (a partition table). The mark is written after mkfs, and again for a disk formatted by a Mount that stopped
/// before marking it.
/// </summary>
internal sealed partial class FormatOnce(IMounter mounter, ILogger<FormatOnce> logger)
{
    /// <param name="disk">The disk and its device.</param>
    /// <param name="mountpoint">Where to mount it (made if missing; anything mounted there is unmounted first).</param>
    /// <param name="markFormatted">Writes the "formatted" mark (a tag) with the file system made.</param>
    /// <param name="cancellationToken">Cancels the probes and mkfs.</param>
    public async Task MountAsync(DiskToMount disk, string mountpoint, Func<string, CancellationToken, Task> markFormatted, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(mountpoint);
        mounter.Unmount(mountpoint); // never stack mounts
        var device = disk.Device;
        var fsType = await DiskTools.ProbeAsync(device, cancellationToken);
        if (fsType is not null)
        {
            if (disk.FormattedMark is null)
            {
                await markFormatted(fsType, cancellationToken); // formatted by a Mount that stopped before marking it
            }

            mounter.Mount(device, mountpoint, fsType, MountFlags.None, null);
            return;
        }

        if (disk.FormattedMark is { } formatted)
        {
            throw new VolumeException(
                $"refusing to format: the volume was formatted before ({disk.MarkName}={formatted} on {disk.DiskId}) and blkid sees no file system on {device}; " +
                "its data may be damaged or the device not yet readable. Check it by hand (e.g. from a snapshot); csvol never formats it again");
        }

        if (await DiskTools.SignaturesAsync(device, cancellationToken) is { } signatures)
        {
            throw new VolumeException(
                $"refusing to format {device} of volume \"{disk.VolumeName}\" ({disk.DiskId}): blkid sees no file system but wipefs finds {signatures}; " +
                "csvol formats only blank disks and mounts whole-disk file systems (a partitioned volume, e.g. from a root-disk snapshot, needs mounting by hand)");
        }

        fsType = disk.Options.GetValueOrDefault(DiskOptions.FsType) ?? DiskOptions.Ext4;
        LogFormatting(disk.VolumeName, disk.DiskId, device, fsType);
        await DiskTools.FormatAsync(device, fsType, cancellationToken);
        mounter.Mount(device, mountpoint, fsType, MountFlags.None, null);
        try
        {
            ApplyRoot(disk.Options, mountpoint);
            await markFormatted(fsType, cancellationToken);
        }
        catch
        {
            mounter.Unmount(mountpoint);
            throw;
        }
    }

    /// <summary>Owner and mode of a new file system's root, so a container that is not root can write to it.</summary>
    private static void ApplyRoot(IReadOnlyDictionary<string, string> options, string root)
    {
        uint? Id(string key) => options.TryGetValue(key, out var v) ? uint.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : null;
        var (uid, gid) = (Id(DiskOptions.Uid), Id(DiskOptions.Gid));
        if (uid is not null || gid is not null)
        {
            Libc.Lchown(root, uid ?? uint.MaxValue, gid ?? uint.MaxValue);
        }

        if (options.TryGetValue(DiskOptions.Mode, out var mode))
        {
            File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32(mode, 8));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: formatting new disk {DiskId} ({Device}) as {FsType}")]
    private partial void LogFormatting(string volume, string diskId, string device, string fsType);
}
