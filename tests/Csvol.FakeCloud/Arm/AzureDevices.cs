using Csvol.FakeCloud.Devices;

namespace Csvol.FakeCloud.Arm;

/// <summary>
/// Names an attached disk's loop device (<see cref="LoopDisks"/>) as an Azure Linux guest sees a data
/// disk: the udev link <c>{root}/disk/azure/scsi1/lun{N}</c> → <c>/dev/loopN</c>, and a SCSI device
/// <c>{root}/sys/bus/scsi/devices/{host}:0:0:{N}/</c> with <c>vendor</c> and <c>model</c> padded as
/// Hyper-V's storvsc reports them (<c>Msft    </c>, <c>Virtual Disk    </c>) and <c>block/loopN/dev</c>
/// (major:minor), where a real one has <c>block/sdX/</c>.
/// </summary>
internal sealed class AzureDevices(LoopDisks disks, int scsiHost)
{
    public static string LunLink(string deviceRoot, int lun) => Path.Combine(deviceRoot, "disk", "azure", "scsi1", $"lun{lun}");

    public string ScsiDirectory(string deviceRoot, int lun) => Path.Combine(deviceRoot, "sys", "bus", "scsi", "devices", $"{scsiHost}:0:0:{lun}");

    public Task<string> AttachAsync(string diskKey, int sizeGiB, string deviceRoot, int lun, CancellationToken cancellationToken) =>
        disks.AttachAsync(diskKey, sizeGiB, loop => Names(deviceRoot, lun, loop), cancellationToken);

    public Task DetachAsync(string deviceRoot, int lun, string loop, CancellationToken cancellationToken) =>
        disks.DetachAsync(loop, Names(deviceRoot, lun, loop), cancellationToken);

    private DeviceNames Names(string deviceRoot, int lun, string loop)
    {
        var kernelName = Path.GetFileName(loop);
        var devNumber = File.Exists($"/sys/block/{kernelName}/dev") ? File.ReadAllText($"/sys/block/{kernelName}/dev") : "";
        return new DeviceNames(
            [LunLink(deviceRoot, lun)],
            ScsiDirectory(deviceRoot, lun),
            new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["vendor"] = "Msft    \n",
                ["model"] = "Virtual Disk    \n",
                [Path.Combine("block", kernelName, "dev")] = devNumber,
            });
    }
}
