using System.Diagnostics;
using Amazon.EC2.Model;
using Csvol.FakeCloud.Ec2;
using Csvol.Tests.FakeCloud;
using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Csvol.Tests.Backends.Ebs;

/// <summary>csvol/ebs through the real plugin on two hosts, against the fake EC2 whose attachments are loop devices.</summary>
public sealed class EbsBackendTests(ITestOutputHelper output) : IAsyncLifetime
{
    private EbsRig _rig = null!;

    public async Task InitializeAsync() => _rig = await EbsRig.StartAsync();

    public async Task DisposeAsync() => await _rig.DisposeAsync();

    [Fact]
    public async Task Mount_MovesBetweenHosts_DataFollowsAndRunningHolderIsNeverRobbed()
    {
        var a = _rig.A;
        var b = _rig.B;
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "data", Opts = new { size = "1", uid = "1000", mode = "0750", tags = "team=db" } })).AssertOk();
        var listedOnB = await Eventually.TrueAsync(async () => (await b.Client.CallAsync("/VolumeDriver.Get", new { Name = "data" })).Err is null);
        using var ec2 = Ec2Clients.For(_rig.Ec2.BaseUri);
        var id = (await a.Client.CallAsync("/VolumeDriver.Get", new { Name = "data" })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("volumeId").GetString()!;

        var clock = Stopwatch.StartNew();
        var mountA = (await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "data", ID = "ca" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        output.WriteLine($"first Mount on A (attach + mkfs.ext4 + mount of a 1 GiB volume): {clock.ElapsedMilliseconds} ms");
        var mountedFs = FsTypeOf(mountA);
        var rootOwnerAndMode = (await ProcessRunner.RunAsync("stat", "-c", "%u %a", mountA)).Trim();
        await File.WriteAllTextAsync(Path.Combine(mountA, "hello.txt"), "from A");
        var seenFromB = await Eventually.TrueAsync(async () =>
            (await b.Client.CallAsync("/VolumeDriver.Get", new { Name = "data" })).AssertOk().Json.GetProperty("Volume").GetProperty("Status")
                .TryGetProperty("attachedTo", out var attachedTo) && attachedTo.GetString() == $"{EbsRig.InstanceA} (attached at /dev/xvdba)");
        (await a.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "data", ID = "ca" })).AssertOk();
        var afterUnmount = await ec2.DescribeAsync(id);

        clock.Restart();
        var mountB = (await b.Client.CallAsync("/VolumeDriver.Mount", new { Name = "data", ID = "cb" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        output.WriteLine($"Mount on B (attach + mount of the formatted volume): {clock.ElapsedMilliseconds} ms");
        var readOnB = await File.ReadAllTextAsync(Path.Combine(mountB, "hello.txt"));
        var refused = await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "data", ID = "ca2" });

        // B's instance stops: its mounts are gone with it, and EC2 still shows the volume attached there.
        Assert.Equal(0, Csvol.Linux.Libc.TryUnmount(mountB, Csvol.Linux.UnmountFlags.None));
        _rig.Ec2.SetInstanceState(EbsRig.InstanceB, FakeInstanceState.Stopped);
        var takenOver = (await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "data", ID = "ca3" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
        var readOnA = await File.ReadAllTextAsync(Path.Combine(takenOver, "hello.txt"));
        (await a.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "data", ID = "ca3" })).AssertOk();
        var final = await ec2.WaitForAsync(id, "available");

        Assert.True(listedOnB, "host B never listed the volume host A created");
        Assert.True(seenFromB, "docker volume inspect on host B never showed the volume attached to host A's instance");
        Assert.Equal("ext4", mountedFs);
        Assert.Equal("1000 750", rootOwnerAndMode);
        Assert.Equal("from A", readOnB);
        Assert.Equal("available", afterUnmount.State);
        Assert.Contains(afterUnmount.Tags, t => t.Key == "csvol/formatted" && t.Value == "ext4");
        Assert.Contains(afterUnmount.Tags, t => t.Key == "team" && t.Value == "db");
        Assert.Contains(EbsRig.InstanceB, refused.Err, StringComparison.Ordinal);
        Assert.Contains("stop the container using it there", refused.Err, StringComparison.Ordinal);
        Assert.Equal("from A", readOnA);
        Assert.Empty(final.Attachments ?? []);
    }

    [Fact]
    public async Task Create_SameNameOnOtherHost_SameOptionsAdoptOtherOptionsErr()
    {
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { size = "2", type = "gp2" } })).AssertOk();
        await Eventually.TrueAsync(async () => (await _rig.B.Client.CallAsync("/VolumeDriver.Get", new { Name = "dup" })).Err is null);

        var same = await _rig.B.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { size = "2G", type = "gp2" } });
        var other = await _rig.B.Client.CallAsync("/VolumeDriver.Create", new { Name = "dup", Opts = new { size = "3", type = "gp2" } });
        using var ec2 = Ec2Clients.For(_rig.Ec2.BaseUri);
        var volumes = (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest())).Volumes ?? [];

        same.AssertOk();
        Assert.Contains("already exists with options", other.Err, StringComparison.Ordinal);
        Assert.Single(volumes);
        Assert.Equal(1, _rig.Ec2.Calls("CreateVolume"));
    }

    [Fact]
    public async Task Mount_FormattedVolumeReadsBlank_RefusedNeverFormatted()
    {
        var a = _rig.A;
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "precious", Opts = new { size = "1" } })).AssertOk();
        (await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "precious", ID = "c1" })).AssertOk();
        (await a.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "precious", ID = "c1" })).AssertOk();
        var id = (await a.Client.CallAsync("/VolumeDriver.Get", new { Name = "precious" })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("volumeId").GetString()!;
        await using (var data = new FileStream(_rig.DataFileOf(id), FileMode.Open, FileAccess.Write))
        {
            await data.WriteAsync(new byte[1 << 20]);
        }

        var mkfsBefore = _rig.Ec2.Calls("CreateTags");
        var refused = await a.Client.CallAsync("/VolumeDriver.Mount", new { Name = "precious", ID = "c2" });
        var firstMiB = new byte[1 << 20];
        await using (var data = File.OpenRead(_rig.DataFileOf(id)))
        {
            await data.ReadExactlyAsync(firstMiB);
        }

        var removed = await a.Client.CallAsync("/VolumeDriver.Remove", new { Name = "precious" });

        Assert.StartsWith("refusing to format: the volume was formatted before", refused.Err, StringComparison.Ordinal);
        Assert.All(firstMiB, b => Assert.Equal(0, b));
        Assert.Equal(mkfsBefore, _rig.Ec2.Calls("CreateTags"));
        Assert.Empty(TempDir.MountsUnder(a.MountpointOf("precious")));
        removed.AssertOk(); // it was left attached by the refused Mount: Remove detaches, then deletes
    }

    [Fact]
    public async Task Remove_WhileAttachedElsewhere_ErrNamesTheInstance_WorksAfterUnmount()
    {
        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "held", Opts = new { size = "1", fsType = "xfs" } })).AssertOk();
        (await _rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "held", ID = "c1" })).AssertOk();
        await Eventually.TrueAsync(async () => (await _rig.B.Client.CallAsync("/VolumeDriver.Get", new { Name = "held" })).Err is null);

        var refused = await _rig.B.Client.CallAsync("/VolumeDriver.Remove", new { Name = "held" });
        var fs = FsTypeOf(_rig.A.MountpointOf("held"));
        (await _rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "held", ID = "c1" })).AssertOk();
        var removed = await _rig.B.Client.CallAsync("/VolumeDriver.Remove", new { Name = "held" });
        using var ec2 = Ec2Clients.For(_rig.Ec2.BaseUri);
        var left = (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest())).Volumes ?? [];
        var goneOnA = await Eventually.TrueAsync(async () => (await _rig.A.Client.CallAsync("/VolumeDriver.Get", new { Name = "held" })).Err is not null);

        Assert.Contains($"is attached to instance {EbsRig.InstanceA}", refused.Err, StringComparison.Ordinal);
        Assert.Equal("xfs", fs);
        removed.AssertOk();
        Assert.Empty(left);
        Assert.True(goneOnA, "host A still lists a volume removed on host B");
    }

    [Fact]
    public async Task Restart_VolumeDeletedOutsideCsvol_RecordDropped_Ec2FailingKeepsRecords()
    {
        var a = _rig.A;
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "gone", Opts = new { size = "1" } })).AssertOk();
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "kept", Opts = new { size = "1" } })).AssertOk();
        var goneId = (await a.Client.CallAsync("/VolumeDriver.Get", new { Name = "gone" })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("volumeId").GetString()!;
        using var ec2 = Ec2Clients.For(_rig.Ec2.BaseUri);

        await a.StopAppAsync();
        _rig.Ec2.FailNext("DescribeVolumes", 1000);
        await a.StartAppAsync();
        await a.Services.GetRequiredService<VolumeService>().Restored.WaitAsync(TimeSpan.FromSeconds(60));
        var keptWhileFailing = File.Exists(Path.Combine(a.Settings.StateDir, "volumes", "gone.json"));
        await a.StopAppAsync();
        _rig.Ec2.ClearFaults();
        _ = await ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = goneId });
        await a.StartAppAsync();
        await a.Services.GetRequiredService<VolumeService>().Restored.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(keptWhileFailing, "a record was dropped while EC2 could not answer");
        Assert.False(File.Exists(Path.Combine(a.Settings.StateDir, "volumes", "gone.json")));
        Assert.True(File.Exists(Path.Combine(a.Settings.StateDir, "volumes", "kept.json")));
    }

    /// <summary>What a plugin killed between AttachVolume and the mount leaves: attached here, no mount, no ID (issue 11).</summary>
    [Fact]
    public async Task Restart_AttachedHereButHeldByNoContainer_DetachedSoAnotherHostMountsIt()
    {
        var a = _rig.A;
        (await a.Client.CallAsync("/VolumeDriver.Create", new { Name = "orphan", Opts = new { size = "1" } })).AssertOk();
        var id = (await a.Client.CallAsync("/VolumeDriver.Get", new { Name = "orphan" })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("volumeId").GetString()!;
        using var ec2 = Ec2Clients.For(_rig.Ec2.BaseUri);
        await a.StopAppAsync();
        _ = await ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = id, InstanceId = EbsRig.InstanceA, Device = "/dev/xvdba" });
        _ = await ec2.WaitForAsync(id, "in-use", "attached");

        await a.StartAppAsync();
        await a.Services.GetRequiredService<VolumeService>().Restored.WaitAsync(TimeSpan.FromSeconds(60));
        var afterRestart = await ec2.DescribeAsync(id);
        _ = await Eventually.TrueAsync(async () => (await _rig.B.Client.CallAsync("/VolumeDriver.Get", new { Name = "orphan" })).Err is null);
        var onB = await _rig.B.Client.CallAsync("/VolumeDriver.Mount", new { Name = "orphan", ID = "cb" });

        Assert.Empty(afterRestart.Attachments ?? []);
        onB.AssertOk();
        (await _rig.B.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "orphan", ID = "cb" })).AssertOk();
    }

    [Fact]
    public async Task CreateAndMount_ThrottlingBurst_Survived()
    {
        _rig.Ec2.ThrottleNext("CreateVolume", 2);
        _rig.Ec2.ThrottleNext("DescribeVolumes", 3);
        _rig.Ec2.ThrottleNext("AttachVolume", 2);

        (await _rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "busy", Opts = new { size = "1" } })).AssertOk();
        (await _rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "busy", ID = "c1" })).AssertOk();
        (await _rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "busy", ID = "c1" })).AssertOk();

        Assert.Equal(3, _rig.Ec2.Calls("CreateVolume"));
        Assert.True(_rig.Ec2.Calls("AttachVolume") >= 3);
    }

    /// <summary>The file system type /proc/self/mountinfo shows at <paramref name="mountpoint"/> (the field after " - ").</summary>
    private static string FsTypeOf(string mountpoint)
    {
        var line = File.ReadLines("/proc/self/mountinfo").Last(l => Csvol.Mounting.MountTable.ParseMountpoint(l) == mountpoint);
        return line[(line.IndexOf(" - ", StringComparison.Ordinal) + 3)..].Split(' ')[0];
    }
}
