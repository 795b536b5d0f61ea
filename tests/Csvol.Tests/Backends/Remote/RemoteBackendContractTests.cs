using System.Diagnostics;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.Remote;

/// <summary>
/// The core's contract for remote backends, shown with two "hosts" (two plugins on their own sockets, state and mount
/// roots) sharing one directory as their remote storage: discovery across hosts, reads that never wait on a hung
/// backend, transient errors that delete nothing, and deadlines that converge instead of duplicating work.
/// </summary>
public sealed class RemoteBackendContractTests : IDisposable
{
    private readonly TempDir _remote = new();

    public void Dispose() => _remote.Dispose();

    [Fact]
    public async Task Create_OnHostA_ListedOnHostB_DataSharedThroughMounts()
    {
        await using var a = await RemoteHost.StartAsync(_remote.Path, new RemoteFaults());
        await using var b = await RemoteHost.StartAsync(_remote.Path, new RemoteFaults());

        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "shared", Opts = new { tier = "fast" } })).AssertOk();
        var seenOnB = await Eventually.TrueAsync(async () => Names(await b.Client.PostAsync("/VolumeDriver.List")).Contains("shared"));
        var onB = (await b.Client.CallAsync("/VolumeDriver.Get", new { Name = "shared" })).AssertOk().Json.GetProperty("Volume");
        var mountA = (await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "shared", ID = "ca" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        var mountB = (await b.Client.CallAsync("/VolumeDriver.Mount", new { Name = "shared", ID = "cb" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        await File.WriteAllTextAsync(Path.Combine(mountA, "from-a"), "written on A");

        Assert.True(seenOnB, "host B never listed the volume host A created");
        Assert.Equal("global", (await b.Client.PostAsync("/VolumeDriver.Capabilities")).AssertOk().Json.GetProperty("Capabilities").GetProperty("Scope").GetString());
        Assert.StartsWith("rv-", onB.GetProperty("Status").GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("written on A", await File.ReadAllTextAsync(Path.Combine(mountB, "from-a")));
        Assert.Equal(b.MountpointOf("shared"), mountB);
        Assert.True(File.Exists(Path.Combine(b.StateDir(), "volumes", "shared.json")), "B keeps a record once it mounts the volume");
    }

    [Fact]
    public async Task Create_SameNameOnBothHostsWithOtherOptions_ErrNamesBothSets()
    {
        await using var a = await RemoteHost.StartAsync(_remote.Path, new RemoteFaults());
        await using var b = await RemoteHost.StartAsync(_remote.Path, new RemoteFaults());
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { tier = "fast" } })).AssertOk();
        await Eventually.TrueAsync(async () => Names(await b.Client.PostAsync("/VolumeDriver.List")).Contains("dup"));

        var same = await b.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { tier = "fast" } });
        var other = await b.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { tier = "slow" } });

        same.AssertOk();
        Assert.Equal("volume \"dup\" already exists with options tier=fast, not tier=slow; create it with the same options or remove it first", other.Err);
        Assert.Single(Directory.EnumerateDirectories(_remote.Path));
    }

    [Fact]
    public async Task Remove_OnHostB_VolumeGoneFromHostA()
    {
        await using var a = await RemoteHost.StartAsync(_remote.Path, new RemoteFaults());
        await using var b = await RemoteHost.StartAsync(_remote.Path, new RemoteFaults());
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "leaving" })).AssertOk();
        await Eventually.TrueAsync(async () => Names(await b.Client.PostAsync("/VolumeDriver.List")).Contains("leaving"));

        (await b.Client.CallAsync("/VolumeDriver.Remove", new { Name = "leaving" })).AssertOk();
        var goneOnA = await Eventually.TrueAsync(async () => !Names(await a.Client.PostAsync("/VolumeDriver.List")).Contains("leaving"));

        Assert.True(goneOnA, "host A still lists a volume removed on host B");
        Assert.False(File.Exists(Path.Combine(a.StateDir(), "volumes", "leaving.json")));
        Assert.DoesNotContain("leaving", Names(await b.Client.PostAsync("/VolumeDriver.List")));
    }

    [Fact]
    public async Task HungBackend_ActivateCapabilitiesGetListStillAnswer()
    {
        var faults = new RemoteFaults();
        await using var host = await RemoteHost.StartAsync(_remote.Path, faults);
        (await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "here" })).AssertOk();
        await host.StopAppAsync();
        foreach (var operation in new[] { "Discover", "Check", "Mount", "Create" })
        {
            faults.Hang(operation);
        }

        await host.StartAppAsync();
        var clock = Stopwatch.StartNew();
        (await host.Client.PostAsync("/Plugin.Activate")).AssertOk();
        (await host.Client.PostAsync("/VolumeDriver.Capabilities")).AssertOk();
        var listed = Names(await host.Client.PostAsync("/VolumeDriver.List"));
        (await host.Client.CallAsync("/VolumeDriver.Get", new { Name = "here" })).AssertOk();
        (await host.Client.CallAsync("/VolumeDriver.Path", new { Name = "here" })).AssertOk();
        var reads = clock.Elapsed;
        var create = await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "other" });
        foreach (var operation in new[] { "Discover", "Check", "Mount", "Create" })
        {
            faults.Release(operation);
        }

        Assert.Equal(["here"], listed);
        // Not a performance figure: a read that waited on the hung backend would never answer at all. The bound is the
        // one wait the design allows (the first discovery, 2 s) with room for a loaded machine.
        Assert.True(reads < TimeSpan.FromSeconds(10), $"reads took {reads.TotalSeconds:0.0} s while the backend hung");
        Assert.Contains("did not finish within 5 s", create.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restart_CheckFailsTransiently_RecordAndVolumeKept()
    {
        var faults = new RemoteFaults();
        await using var host = await RemoteHost.StartAsync(_remote.Path, faults);
        (await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "kept" })).AssertOk();
        await host.StopAppAsync();
        faults.Fail("Check", 1000);
        faults.Fail("Discover", 1000);

        await host.StartAppAsync();
        await host.Volumes().Restored.WaitAsync(TimeSpan.FromSeconds(30));

        (await host.Client.CallAsync("/VolumeDriver.Get", new { Name = "kept" })).AssertOk();
        Assert.True(File.Exists(Path.Combine(host.StateDir(), "volumes", "kept.json")));
        Assert.True(Directory.Exists(Path.Combine(_remote.Path, "kept")));
    }

    [Fact]
    public async Task Mount_PastItsDeadline_ErrSaysItGoesOn_RepeatJoinsAndNothingIsDoneTwice()
    {
        var faults = new RemoteFaults();
        await using var host = await RemoteHost.StartAsync(_remote.Path, faults,
            new("", CallDeadline: TimeSpan.FromSeconds(1), DiscoveryInterval: TimeSpan.FromSeconds(30), RepairInterval: TimeSpan.FromSeconds(30)));
        (await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "slow" })).AssertOk();
        faults.Delay("Mount", TimeSpan.FromSeconds(1.6));
        faults.Delay("Create", TimeSpan.FromSeconds(1.6));

        var first = await host.Client.CallAsync("/VolumeDriver.Mount", new { Name = "slow", ID = "c1" });
        var repeat = await host.Client.CallAsync("/VolumeDriver.Mount", new { Name = "slow", ID = "c1" });
        var firstCreate = await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "late" });
        var repeatCreate = await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "late" });

        Assert.Equal(
            "Mount of volume \"slow\" did not finish within 1 s (the storage backend is slow); it goes on in the background, " +
            "and repeating the same call joins it or finds it done",
            first.Err);
        Assert.Equal(host.MountpointOf("slow"), repeat.AssertOk().Json.GetProperty("Mountpoint").GetString());
        Assert.Equal(1, faults.Completed("Mount"));
        Assert.Equal(1, TempDir.MountCount(host.MountpointOf("slow")));
        Assert.Contains("did not finish within 1 s", firstCreate.Err, StringComparison.Ordinal);
        repeatCreate.AssertOk();
        Assert.Equal(2, faults.Completed("Create")); // "slow" and "late", each once
        Assert.Equal(["late", "slow"], Directory.EnumerateDirectories(_remote.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Restart_RestoreOfOneVolumeHangs_OtherVolumesServedAndItsCallsWait()
    {
        var faults = new RemoteFaults();
        await using var host = await RemoteHost.StartAsync(_remote.Path, faults,
            new("", CallDeadline: TimeSpan.FromSeconds(2), DiscoveryInterval: TimeSpan.FromSeconds(30), RepairInterval: TimeSpan.FromSeconds(30)));
        (await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "stuck" })).AssertOk();
        (await host.Client.CallAsync("/VolumeDriver.Create", new { Name = "free" })).AssertOk();
        (await host.Client.CallAsync("/VolumeDriver.Mount", new { Name = "stuck", ID = "c1" })).AssertOk();
        await host.StopAppAsync();
        Csvol.Linux.Libc.TryUnmount(host.MountpointOf("stuck"), Csvol.Linux.UnmountFlags.None); // as after a crash that lost the mount
        faults.Hang("Mount:stuck");

        await host.StartAppAsync();
        var waiting = await host.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "stuck", ID = "c1" });
        var free = await host.Client.CallAsync("/VolumeDriver.Mount", new { Name = "free", ID = "c2" });
        faults.Release("Mount:stuck");
        var repeat = await host.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "stuck", ID = "c1" });
        await host.Volumes().Restored.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Contains("Unmount of volume \"stuck\" did not finish within 2 s", waiting.Err, StringComparison.Ordinal);
        free.AssertOk();
        repeat.AssertOk();
        Assert.Equal(3, faults.Completed("Mount")); // "stuck" before the restart and in its restore, "free" once
        Assert.Equal(0, TempDir.MountCount(host.MountpointOf("stuck")));
        Assert.Equal("0", (await host.Client.CallAsync("/VolumeDriver.Get", new { Name = "stuck" })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("mounts").GetString());
    }

    private static string[] Names(PluginResponse list) =>
        [.. list.AssertOk().Json.GetProperty("Volumes").EnumerateArray().Select(v => v.GetProperty("Name").GetString()!).Order()];
}
