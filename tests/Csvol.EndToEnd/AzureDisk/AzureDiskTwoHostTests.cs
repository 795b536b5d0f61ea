using System.Diagnostics;
using System.Globalization;
using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.Arm;

namespace Csvol.EndToEnd.AzureDisk;

/// <summary>
/// A volume of <c>csvol/azuredisk</c> moving between two VMs, as users drive it: every step is a docker CLI call against
/// host A's or host B's dockerd; what the cloud did is read from the fake ARM through the Azure SDK, and what the disk
/// holds from containers (sha256 of a random file).
/// </summary>
[Collection(AzureDiskTwoHostCollection.Name)]
public sealed class AzureDiskTwoHostTests(AzureDiskHostsFixture rig) : TwoHostTests<AzureDiskHost>(rig, "e2e-az-"), IAsyncLifetime
{
    private int? _stoppedPlugin;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Leaves the rig as the next test expects it: no faults, both VMs running, both plugins running, no container of this test.</summary>
    public async Task DisposeAsync()
    {
        rig.Arm.ClearFaults();
        rig.Arm.OperationDelay = TimeSpan.Zero;
        if (_stoppedPlugin is { } pid)
        {
            _ = await Cli.RunAsync("kill", ["-CONT", pid.ToString(CultureInfo.InvariantCulture)]);
        }

        await rig.SetPowerStateAsync(A, FakeVmPowerState.Running);
        await rig.SetPowerStateAsync(B, FakeVmPowerState.Running);
        await RemoveWhatThisTestMadeAsync();
    }

    [Fact]
    public async Task CreateOnA_WrittenThenReadOnB_SameBytesAndDetachedBetween()
    {
        var name = await CreateOnAAsync();

        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        var afterA = await rig.AwaitDetachedAsync(name, Bound);
        await B.AwaitListedAsync(name, Bound);
        var read = await B.MustAsync(await B.RunAsync(name, ReadScript));
        var afterB = await rig.AwaitDetachedAsync(name, Bound);

        Assert.Equal(written, read);
        Assert.Equal(64, written.Length);
        Assert.Equal(afterA.Id, afterB.Id);
        Assert.Equal(afterA.Id.ToString(), await A.Docker.MustAsync("volume", "inspect", "-f", "{{index .Status \"diskId\"}}", name), ignoreCase: true);
        Assert.Equal("ext4", afterA.Tags["csvol-formatted"]);
        Assert.Empty(await rig.DataDisksOfAsync(A));
        Assert.Empty(await rig.DataDisksOfAsync(B));
        await AwaitNoLoopDevicesAsync();
    }

    [Fact]
    public async Task MountOnA_WhileContainerOnBHoldsIt_ErrNamesVmBAndWhatToDo()
    {
        var name = await CreateOnAAsync();
        _ = await A.MustAsync(await A.RunAsync(name, WriteScript));
        await B.AwaitListedAsync(name, Bound);
        _ = await HoldAsync(B, name);

        var refused = await A.RunAsync(name, ReadScript);

        Assert.False(refused.Succeeded, refused.Describe());
        Assert.Contains($"is attached to VM {B.VmName}, which is running", refused.StdErr, StringComparison.Ordinal);
        Assert.Contains("stop the container using it there (or stop that VM), then try again", refused.StdErr, StringComparison.Ordinal);
        Assert.EndsWith("/virtualMachines/" + B.VmName, (await rig.DiskNamedAsync(name)).ManagedBy?.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Empty(await rig.DataDisksOfAsync(A));
    }

    /// <summary>
    /// B's VM is deallocated with the disk still attached to it, as when a VM is stopped from the portal: B's container
    /// ends while ARM fails B's detach, then B's plugin is frozen (no guest runs on a deallocated VM) and the VM
    /// deallocated. A must take the disk over, and say so in its log.
    /// </summary>
    [Fact]
    public async Task MountOnA_HolderVmBDeallocated_TakesItOverAndReadsTheData()
    {
        var name = await CreateOnAAsync();
        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        await B.AwaitListedAsync(name, Bound);
        var holder = await HoldAsync(B, name);
        Assert.Single(await rig.DataDisksOfAsync(B));

        rig.Arm.FailNext("PATCH virtualMachines", 100, 503);
        _ = await B.Docker.RunAsync("rm", "-f", holder); // its Unmount fails: the disk stays attached to vm-b
        Assert.Equal("", (await B.Docker.MustAsync("ps", "-aq", "--filter", "name=" + holder)));
        _stoppedPlugin = B.PluginProcessId() ?? throw new InvalidOperationException("host B's plugin process not found\n" + await B.LogTailAsync());
        (await Cli.RunAsync("kill", ["-STOP", _stoppedPlugin.Value.ToString(CultureInfo.InvariantCulture)])).MustSucceed();
        await rig.SetPowerStateAsync(B, FakeVmPowerState.Deallocated);
        rig.Arm.ClearFaults();
        var before = await rig.DiskNamedAsync(name);
        Assert.EndsWith("/virtualMachines/" + B.VmName, before.ManagedBy?.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("Reserved", before.DiskState?.ToString());

        var read = await A.MustAsync(await A.RunAsync(name, ReadScript));

        Assert.Equal(written, read);
        // The plugin logs JSON (dockerd quotes it): A's takeover event names the disk, vm-b and its power state.
        var takeovers = (await File.ReadAllLinesAsync(A.Docker.LogFile))
            .Where(l => l.Contains("LogTakeover", StringComparison.Ordinal) && l.Contains($"\\\"Disk\\\":\\\"{before.Name}\\\"", StringComparison.Ordinal)).ToList();
        var takeover = Assert.Single(takeovers);
        Assert.Contains($"\\\"Vm\\\":\\\"{B.VmName}\\\"", takeover, StringComparison.Ordinal);
        Assert.Contains("\\\"State\\\":\\\"deallocated\\\"", takeover, StringComparison.Ordinal);
        _ = await rig.AwaitDetachedAsync(name, Bound);
        Assert.Empty(await rig.DataDisksOfAsync(B));
        await AwaitNoLoopDevicesAsync();
    }

    [Fact]
    public async Task Run_PluginKilledMidAttach_RepeatConvergesOnOneDiskAndOneDataDiskEntry()
    {
        var name = await CreateOnAAsync();
        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        var disk = await rig.AwaitDetachedAsync(name, Bound);

        var (first, killed, restarted) = await RunKilledMidAttachAsync(name, () => rig.Arm.Calls("PATCH virtualMachines"), "host A's attach (PATCH of vm-a)", () => rig.Arm.OperationDelay = TimeSpan.FromSeconds(8), () => rig.Arm.OperationDelay = TimeSpan.Zero);
        var holder = await RepeatUntilHeldAsync(A, name);
        var entries = await rig.DataDisksOfAsync(A);
        var loops = await rig.LoopDevicesAsync();
        var read = await A.Docker.MustAsync("exec", holder, "sh", "-c", ReadScript);
        _ = await A.Docker.MustAsync("rm", "-f", holder);

        Assert.False(first.Succeeded && first.StdOut.Trim() != written, first.Describe());
        Assert.NotEqual(killed, restarted);
        Assert.Equal("true", await A.Docker.MustAsync("plugin", "inspect", "-f", "{{.Enabled}}", AzureDiskHost.PluginName));
        Assert.Equal(written, read);
        var entry = Assert.Single(entries);
        Assert.Equal(disk.Id.ToString(), entry.ManagedDisk?.Id?.ToString(), ignoreCase: true);
        Assert.Single(loops);
        Assert.Equal(disk.Id, (await rig.AwaitDetachedAsync(name, Bound)).Id); // still exactly one disk carries the name
        Assert.Empty(await rig.DataDisksOfAsync(A));
        await AwaitNoLoopDevicesAsync();
    }

    /// <summary>Nobody repeats the run: the disk must not stay attached to vm-a, or B is refused for a container that does not exist.</summary>
    [Fact]
    public async Task Run_PluginKilledMidAttachAndNotRepeated_RestartedPluginReleasesTheDiskForB()
    {
        var name = await CreateOnAAsync();
        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        _ = await rig.AwaitDetachedAsync(name, Bound);

        var (first, _, _) = await RunKilledMidAttachAsync(name, () => rig.Arm.Calls("PATCH virtualMachines"), "host A's attach (PATCH of vm-a)", () => rig.Arm.OperationDelay = TimeSpan.FromSeconds(8), () => rig.Arm.OperationDelay = TimeSpan.Zero);
        var released = Stopwatch.StartNew();
        _ = await rig.AwaitDetachedAsync(name, Bound);
        released.Stop();

        Assert.False(first.Succeeded, first.Describe()); // dockerd's retry reaches the new plugin without a body
        await B.AwaitListedAsync(name, Bound);
        Assert.Equal(written, await B.MustAsync(await B.RunAsync(name, ReadScript)));
        Assert.Empty(await rig.DataDisksOfAsync(A));
        await AwaitNoLoopDevicesAsync();
        rig.Step($"test: disk released {released.Elapsed.TotalSeconds:0.0} s after the killed plugin's restart");
    }

    [Fact]
    public async Task CreateWriteRead_ThrottlingAnd5xxBursts_SucceedWithinBound()
    {
        (string Call, bool Throttle, int Count)[] faults =
        [
            ("PUT disks", true, 2), ("GET virtualMachines", true, 2), ("PATCH virtualMachines", false, 3), ("PATCH disks", false, 2),
        ];
        await WriteAndReadThroughFaultsAsync(
            faults,
            (call, throttle, count) =>
            {
                if (throttle)
                {
                    rig.Arm.ThrottleNext(call, count, TimeSpan.FromSeconds(1));
                }
                else
                {
                    rig.Arm.FailNext(call, count, call.StartsWith("PATCH disks", StringComparison.Ordinal) ? 503 : 500);
                }
            },
            rig.Arm.Calls,
            CreateOnAAsync,
            name => rig.AwaitDetachedAsync(name, Bound));
    }

    /// <summary><c>docker volume create -d csvol/azuredisk -o size=1 NAME</c> on A; the fake then holds exactly one disk of that name.</summary>
    private async Task<string> CreateOnAAsync()
    {
        var name = NewVolumeName();
        var created = await A.Docker.RunAsync("volume", "create", "-d", AzureDiskHost.PluginName, "-o", "size=1", "--", name);
        if (!created.Succeeded)
        {
            throw new CommandFailedException(created.Describe() + "\n" + await A.LogTailAsync());
        }

        var disk = await rig.DiskNamedAsync(name);
        Assert.Equal(1, disk.DiskSizeGB);
        Assert.Equal(AzureDiskHostsFixture.Zone, Assert.Single(disk.Zones));
        Assert.Null(disk.ManagedBy);
        return name;
    }
}
