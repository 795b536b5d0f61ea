using Csvol.Backends.AzureDisk;
using Csvol.Tests.FakeCloud;
using Csvol.Tests.Support;
using Csvol.Volumes;

namespace Csvol.Tests.Backends.AzureDisk;

/// <summary>
/// Finding a data disk by LUN on real loop devices under a sysfs tree laid out as a Hyper-V guest's: several SCSI
/// hosts can each have a LUN 0 (the OS disk sits at 0:0:0:0), so the size and the scsi1 link decide.
/// </summary>
public sealed class AzureDevicesTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly List<string> _loops = [];

    public Task InitializeAsync()
    {
        Root.Require();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var loop in _loops)
        {
            _ = await ProcessRunner.RunAsync("losetup", "--detach", loop);
        }

        Assert.Empty(await FakeEc2ServerTests.LoopsBackedBy(_dir.Path));
        _dir.Dispose();
    }

    [Fact]
    public async Task Find_OsDiskAndDataDiskBothAtLunZero_TheOneOfTheDisksSize()
    {
        var os = await LoopAsync("os", 2);
        var data = await LoopAsync("data", 1);
        Scsi("0:0:0:0", os);
        Scsi("1:0:0:0", data);

        var found = await Devices().FindAsync("disk-1", 0, 1, CancellationToken.None);

        Assert.Equal(data, found);
    }

    [Fact]
    public async Task Find_TwoOfTheSameSizeAtTheLun_TheLinkDecidesElseRefused()
    {
        var first = await LoopAsync("first", 1);
        var second = await LoopAsync("second", 1);
        Scsi("0:0:0:3", first);
        Scsi("1:0:0:3", second);

        var refused = await Assert.ThrowsAsync<VolumeException>(() => Devices().FindAsync("disk-2", 3, 1, CancellationToken.None));
        Link(3, second);
        var found = await Devices().FindAsync("disk-2", 3, 1, CancellationToken.None);

        Assert.Contains("both sit at LUN 3 with the disk's size", refused.Message, StringComparison.Ordinal);
        Assert.Equal(second, found);
    }

    [Fact]
    public async Task Find_OnlyAnotherVendorAtTheLun_NotTaken()
    {
        var other = await LoopAsync("other", 1);
        Scsi("2:0:0:5", other, vendor: "ATA     ");

        var refused = await Assert.ThrowsAsync<VolumeException>(() => Devices().FindAsync("disk-3", 5, 1, CancellationToken.None));

        Assert.Contains("no device for it appeared within 15 s", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_DeviceMissedUntilRescan_RescanWrittenThenFound()
    {
        var data = await LoopAsync("late", 1);
        var scan = _dir.Sub("sys", "class", "scsi_host", "host1", "scan");
        Directory.CreateDirectory(Path.GetDirectoryName(scan)!);
        await File.WriteAllTextAsync(scan, "");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var kernel = Task.Run(async () =>
        {
            // What the kernel does on "- - -": it looks for devices and finds the hot-added disk.
            while ((await File.ReadAllTextAsync(scan, stop.Token)).Trim() != "- - -")
            {
                await Task.Delay(50, stop.Token);
            }

            Scsi("1:0:0:7", data);
        }, stop.Token);

        var found = await Devices().FindAsync("disk-4", 7, 1, CancellationToken.None);
        await kernel;

        Assert.Equal(data, found);
    }

    private AzureDevices Devices() => new(_dir.Sub("dev"), _dir.Sub("sys"), TimeProvider.System);

    private async Task<string> LoopAsync(string name, int sizeGiB)
    {
        var file = _dir.Sub(name + ".img");
        await using (var stream = new FileStream(file, FileMode.Create))
        {
            stream.SetLength((long)sizeGiB << 30);
        }

        var loop = (await ProcessRunner.RunAsync("losetup", "--find", "--show", file)).Trim();
        _loops.Add(loop);
        return loop;
    }

    /// <summary>A SCSI device H:C:T:L with a vendor and the loop device as its block device.</summary>
    private void Scsi(string address, string loop, string vendor = "Msft    ")
    {
        var device = _dir.Sub("sys", "bus", "scsi", "devices", address);
        Directory.CreateDirectory(Path.Combine(device, "block", Path.GetFileName(loop)));
        File.WriteAllText(Path.Combine(device, "vendor"), vendor + "\n");
    }

    private void Link(int lun, string loop)
    {
        var link = _dir.Sub("dev", "disk", "azure", "scsi1", "lun" + lun);
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        File.CreateSymbolicLink(link, loop);
    }
}
