using Csvol.FakeCloud.Devices;

namespace Csvol.FakeCloud.Ec2;

/// <summary>
/// Names an attached volume's loop device (<see cref="LoopDisks"/>) the way a Nitro instance does:
/// <c>{root}/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol{hex}</c> and <c>{root}/{device name}</c>
/// link to <c>/dev/loopN</c>; a loop device's serial cannot be set, so
/// <c>{root}/sys/block/loopN/device/serial</c> holds <c>vol{hex}</c>, where NVMe keeps it.
/// </summary>
internal sealed class BlockDevices(string dataDirectory, string deviceRoot)
{
    private readonly LoopDisks _disks = new(dataDirectory);

    /// <summary>The names each loop device got at attach, so a detach removes those even if <see cref="Xen"/> changed since.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DeviceNames> _named = new(StringComparer.Ordinal);

    /// <summary>
    /// Attach as a Xen instance does (blkfront): only <c>{root}/{device name}</c>, no by-id link, and a sysfs device
    /// with <c>devtype</c> "vbd" and no serial.
    /// </summary>
    public bool Xen { get; set; }

    public string DataFile(string volumeId) => _disks.DataFile(volumeId);

    public string ByIdLink(string volumeId) =>
        Path.Combine(deviceRoot, "disk", "by-id", "nvme-Amazon_Elastic_Block_Store_" + Serial(volumeId));

    public static string Serial(string volumeId) => volumeId.Replace("-", "", StringComparison.Ordinal);

    /// <inheritdoc cref="LoopDisks.EnsureFile"/>
    public void EnsureFile(string volumeId, int sizeGiB, string? copyFrom) => _disks.EnsureFile(volumeId, sizeGiB, copyFrom);

    public Task<string> AttachAsync(string volumeId, string deviceName, int sizeGiB, CancellationToken cancellationToken)
    {
        var xen = Xen;
        return _disks.AttachAsync(volumeId, sizeGiB, loop => _named[loop] = Names(volumeId, deviceName, loop, xen), cancellationToken);
    }

    public Task DetachAsync(string volumeId, string deviceName, string loop, CancellationToken cancellationToken) =>
        _disks.DetachAsync(loop, _named.TryRemove(loop, out var names) ? names : Names(volumeId, deviceName, loop, Xen), cancellationToken);

    /// <inheritdoc cref="LoopDisks.RefreshSizeAsync"/>
    public Task RefreshSizeAsync(string loop, CancellationToken cancellationToken) => _disks.RefreshSizeAsync(loop, cancellationToken);

    /// <inheritdoc cref="LoopDisks.DeleteFile"/>
    public void DeleteFile(string volumeId) => _disks.DeleteFile(volumeId);

    public void DeleteAllFiles() => _disks.DeleteAllFiles();

    private DeviceNames Names(string volumeId, string deviceName, string loop, bool xen) => new(
        xen ? [DeviceLink(deviceName)] : [ByIdLink(volumeId), DeviceLink(deviceName)],
        Path.Combine(deviceRoot, "sys", "block", Path.GetFileName(loop)),
        new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [Path.Combine("device", xen ? "devtype" : "serial")] = (xen ? "vbd" : Serial(volumeId)) + "\n",
        });

    private string DeviceLink(string deviceName) =>
        Path.Combine(deviceRoot, deviceName.StartsWith("/dev/", StringComparison.Ordinal) ? deviceName[5..] : deviceName.TrimStart('/'));
}
