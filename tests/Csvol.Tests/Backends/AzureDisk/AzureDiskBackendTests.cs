using System.Diagnostics;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Resources;
using Csvol.FakeCloud.Arm;
using Csvol.Tests.Support;
using Xunit.Abstractions;

namespace Csvol.Tests.Backends.AzureDisk;

/// <summary>csvol/azuredisk through the real plugin on two VMs, against the fake ARM whose attachments are loop devices.</summary>
public sealed class AzureDiskBackendTests(ITestOutputHelper output) : IAsyncLifetime
{
    private AzureRig _rig = null!;

    public async Task InitializeAsync() => _rig = await AzureRig.StartAsync();

    public async Task DisposeAsync() => await _rig.DisposeAsync();

    private ArmClient Arm => _rig.Client();

    [Fact]
    public async Task Mount_MovesBetweenVms_DataFollowsAndRunningHolderIsNeverRobbed()
    {
        var a = _rig.A;
        var b = _rig.B;
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "pg1", Opts = new { size = "1", sku = "premium_lrs", uid = "999", mode = "0700", tags = "team=db" } })).AssertOk();
        var listedOnB = await Eventually.TrueAsync(async () => (await b.Client.CallAsync("/VolumeDriver.Get", new { Name = "pg1" })).Err is null);

        var clock = Stopwatch.StartNew();
        var mountA = (await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "pg1", ID = "ca" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        output.WriteLine($"first Mount on A (attach + mkfs.ext4 + mount of a 1 GiB disk): {clock.ElapsedMilliseconds} ms");
        var rootOwnerAndMode = (await ProcessRunner.RunAsync("stat", "-c", "%u %a", mountA)).Trim();
        await File.WriteAllTextAsync(Path.Combine(mountA, "hello.txt"), "from vm-a");
        var statusOnA = (await a.Client.CallAsync("/VolumeDriver.Get", new { Name = "pg1" })).AssertOk().Json.GetProperty("Volume").GetProperty("Status");
        (await a.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "pg1", ID = "ca" })).AssertOk();
        var afterUnmount = (await DiskAsync("pg1")).Data;

        clock.Restart();
        var mountB = (await b.Client.CallAsync("/VolumeDriver.Mount", new { Name = "pg1", ID = "cb" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        output.WriteLine($"Mount on B (attach + mount of the formatted disk): {clock.ElapsedMilliseconds} ms");
        var readOnB = await File.ReadAllTextAsync(Path.Combine(mountB, "hello.txt"));
        var refused = await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "pg1", ID = "ca2" });

        // VM B stops: its mounts are gone with it, and ARM still shows the disk attached there.
        Assert.Equal(0, Csvol.Linux.Libc.TryUnmount(mountB, Csvol.Linux.UnmountFlags.None));
        await _rig.Arm.SetPowerStateAsync(AzureRig.ResourceGroup, AzureRig.VmB, FakeVmPowerState.Deallocated);
        var takenOver = (await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "pg1", ID = "ca3" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        var readOnA = await File.ReadAllTextAsync(Path.Combine(takenOver, "hello.txt"));
        (await a.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "pg1", ID = "ca3" })).AssertOk();
        var final = (await DiskAsync("pg1")).Data;

        Assert.True(listedOnB, "VM B never listed the volume VM A created");
        Assert.Equal("999 700", rootOwnerAndMode);
        Assert.Equal("0", statusOnA.GetProperty("lun").GetString());
        Assert.StartsWith("/dev/loop", statusOnA.GetProperty("device").GetString(), StringComparison.Ordinal);
        Assert.Null(afterUnmount.ManagedBy);
        Assert.Equal("ext4", afterUnmount.Tags["csvol-formatted"]);
        Assert.Equal("db", afterUnmount.Tags["team"]);
        Assert.Equal("test", afterUnmount.Tags["csvol-cluster"]);
        Assert.Equal("Premium_LRS", afterUnmount.Sku.Name.ToString());
        Assert.Equal(["1"], afterUnmount.Zones);
        Assert.Equal("from vm-a", readOnB);
        Assert.Contains("attached to VM vm-b, which is running", refused.Err, StringComparison.Ordinal);
        Assert.Contains("stop the container using it there", refused.Err, StringComparison.Ordinal);
        Assert.Equal("from vm-a", readOnA);
        Assert.Null(final.ManagedBy);
    }

    [Fact]
    public async Task Create_SameNameOnOtherVm_SameOptionsAdoptOtherOptionsErr()
    {
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { size = "2" } })).AssertOk();
        await Eventually.TrueAsync(async () => (await _rig.B.Client.CallAsync("/VolumeDriver.Get", new { Name = "dup" })).Err is null);

        var same = await _rig.B.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { size = "2g" } });
        var other = await _rig.B.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { size = "3" } });
        var disks = await AllDisksAsync();

        same.AssertOk();
        Assert.Contains("already exists with", other.Err, StringComparison.Ordinal);
        Assert.Single(disks);
        Assert.Equal(1, _rig.Arm.Calls("PUT disks"));
    }

    [Theory]
    [InlineData("sku=Premium_LRS;size=10;diskIops=5000", "option \"diskIops\" applies only to sku=PremiumV2_LRS or UltraSSD_LRS, not sku=Premium_LRS")]
    [InlineData("sku=PremiumV2_LRS;size=10;cachingMode=ReadOnly", "cachingMode=ReadOnly is not allowed for sku=PremiumV2_LRS: only None")]
    [InlineData("sku=Premium_LRS;size=8192;cachingMode=ReadWrite", "cachingMode=ReadWrite is not allowed for a disk of 8192 GiB")]
    [InlineData("sku=Premium_ZRS;size=10;zone=2", "option \"zone\" does not apply to sku=Premium_ZRS")]
    [InlineData("sku=UltraSSD_LRS;size=2", "size=2 GiB is outside what sku=UltraSSD_LRS allows: 4-65536 GiB")]
    [InlineData("sku=Premium_LRS", "option \"size\" (GiB) is needed unless \"sourceSnapshot\" is given")]
    [InlineData("size=10;sku=Gold_LRS", "one of Standard_LRS, StandardSSD_LRS, Premium_LRS, PremiumV2_LRS, UltraSSD_LRS, Premium_ZRS, StandardSSD_ZRS")]
    [InlineData("size=10;tags=a/b=1", "tag keys without any of <>%&\\?/")]
    [InlineData("size=10;tags=azure-x=1", "tag keys that do not start with \"azure\"")]
    [InlineData("size=10;sourceSnapshot=/subscriptions/x/snap", "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/snapshots/<name>")]
    public async Task Create_InvalidOptions_ErrBeforeAnyCall(string given, string expected)
    {
        var options = given.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

        var refused = await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "bad", Opts = options });

        Assert.Contains(expected, refused.Err, StringComparison.Ordinal);
        Assert.Equal(0, _rig.Arm.Calls("PUT disks"));
    }

    [Fact]
    public async Task Remove_WhileAttachedElsewhere_ErrNamesTheVm_WorksAfterUnmount()
    {
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "held", Opts = new { size = "1", fsType = "xfs" } })).AssertOk();
        (await _rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "held", ID = "c1" })).AssertOk();
        await Eventually.TrueAsync(async () => (await _rig.B.Client.CallAsync("/VolumeDriver.Get", new { Name = "held" })).Err is null);

        var refused = await _rig.B.Client.CallAsync("/VolumeDriver.Remove", new { Name = "held" });
        (await _rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "held", ID = "c1" })).AssertOk();
        var removed = await _rig.B.Client.CallAsync("/VolumeDriver.Remove", new { Name = "held" });
        var left = await AllDisksAsync();

        Assert.Contains("is attached to VM vm-a", refused.Err, StringComparison.Ordinal);
        removed.AssertOk();
        Assert.Empty(left);
    }

    [Fact]
    public async Task Mount_FormattedDiskReadsBlank_RefusedNeverFormatted()
    {
        var a = _rig.A;
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "precious", Opts = new { size = "1" } })).AssertOk();
        (await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "precious", ID = "c1" })).AssertOk();
        (await a.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "precious", ID = "c1" })).AssertOk();
        var file = _rig.DataFileOf((await DiskAsync("precious")).Data.UniqueId!);
        await using (var data = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            await data.WriteAsync(new byte[1 << 20]);
        }

        var refused = await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "precious", ID = "c2" });
        var firstMiB = new byte[1 << 20];
        await using (var data = File.OpenRead(file))
        {
            await data.ReadExactlyAsync(firstMiB);
        }

        Assert.StartsWith("refusing to format: the volume was formatted before (csvol-formatted=ext4", refused.Err, StringComparison.Ordinal);
        Assert.All(firstMiB, b => Assert.Equal(0, b));
        (await a.Client.CallAsync("/VolumeDriver.Remove", new { Name = "precious" })).AssertOk(); // Remove detaches the disk the refused Mount left attached
    }

    [Fact]
    public async Task CreateAndMount_ThrottledWithRetryAfterAnd5xx_Survived()
    {
        _rig.Arm.ThrottleNext("PUT disks", 2, TimeSpan.FromSeconds(1));
        _rig.Arm.FailNext("GET virtualMachines", 2, 503);
        _rig.Arm.ThrottleNext("PATCH virtualMachines", 1, TimeSpan.FromSeconds(1));

        var clock = Stopwatch.StartNew();
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "busy", Opts = new { size = "1" } })).AssertOk();
        var createTook = clock.Elapsed;
        (await _rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "busy", ID = "c1" })).AssertOk();
        (await _rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "busy", ID = "c1" })).AssertOk();

        Assert.Equal(3, _rig.Arm.Calls("PUT disks"));
        Assert.True(createTook >= TimeSpan.FromSeconds(1.8), $"Create took {createTook}: the two Retry-After: 1 were not waited for");
        Assert.True(_rig.Arm.Calls("PATCH virtualMachines") >= 3); // throttled attach, attach, detach
    }

    [Fact]
    public async Task Mount_DeviceAppearsAfterAzureReportsTheAttach_WaitedFor()
    {
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "slow-udev", Opts = new { size = "1" } })).AssertOk();
        _rig.Arm.DeviceDelay = TimeSpan.FromSeconds(2);

        var clock = Stopwatch.StartNew();
        var mountpoint = (await _rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "slow-udev", ID = "c1" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        var took = clock.Elapsed;
        await File.WriteAllTextAsync(Path.Combine(mountpoint, "f"), "x");
        (await _rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "slow-udev", ID = "c1" })).AssertOk();

        Assert.True(took >= TimeSpan.FromSeconds(1.5), $"Mount returned after {took}, before the device could have appeared");
    }

    [Fact]
    public async Task Mount_DiskDeletedOutsideCsvol_ClearErr()
    {
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "gone", Opts = new { size = "1" } })).AssertOk();
        var disk = await DiskAsync("gone");
        _ = await disk.DeleteAsync(Azure.WaitUntil.Completed);

        var refused = await _rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "gone", ID = "c1" });

        Assert.Contains($"disk {disk.Data.Name} of volume \"gone\" no longer exists", refused.Err, StringComparison.Ordinal);
    }

    /// <summary>
    /// ARM refuses an update of a VM while another runs (409): the attach a plugin killed mid-Mount left, say. The
    /// detach waits for it rather than failing (which left the disk attached until the next repair, 30 s later).
    /// </summary>
    [Fact]
    public async Task Unmount_WhileAnotherUpdateOfTheVmRuns_WaitsForItThenDetaches()
    {
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "vm-busy", Opts = new { size = "1" } })).AssertOk();
        (await _rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "vm-busy", ID = "c1" })).AssertOk();
        var vm = Arm.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(_rig.Arm.SubscriptionId, AzureRig.ResourceGroup, AzureRig.VmA));
        var patch = new Azure.ResourceManager.Compute.Models.VirtualMachinePatch { StorageProfile = new() };
        foreach (var entry in (await vm.GetAsync()).Value.Data.StorageProfile.DataDisks)
        {
            patch.StorageProfile.DataDisks.Add(entry);
        }

        _rig.Arm.OperationDelay = TimeSpan.FromSeconds(2);
        _ = await vm.UpdateAsync(Azure.WaitUntil.Started, patch); // an update of vm-a that is not csvol's, still running
        var clock = Stopwatch.StartNew();
        var unmounted = await _rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "vm-busy", ID = "c1" });
        var took = clock.Elapsed;
        _rig.Arm.OperationDelay = TimeSpan.Zero;

        Assert.Null(unmounted.Err);
        Assert.Null((await DiskAsync("vm-busy")).Data.ManagedBy);
        Assert.True(took >= TimeSpan.FromSeconds(1), $"Unmount returned after {took}, before the other update could have ended");
    }

    private async Task<ManagedDiskResource> DiskAsync(string volume) =>
        (await AllDisksAsync()).Single(d => d.Data.Tags.TryGetValue("csvol-name", out var name) && name == volume);

    private async Task<List<ManagedDiskResource>> AllDisksAsync()
    {
        var disks = new List<ManagedDiskResource>();
        var group = Arm.GetResourceGroupResource(ResourceGroupResource.CreateResourceIdentifier(_rig.Arm.SubscriptionId, AzureRig.ResourceGroup));
        await foreach (var disk in group.GetManagedDisks().GetAllAsync())
        {
            disks.Add(disk);
        }

        return disks;
    }
}
