using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.Ec2;

namespace Csvol.EndToEnd.Ebs;

/// <summary>
/// A volume of <c>csvol/ebs</c> moving between two hosts, as users drive it: every step is a docker CLI call against
/// host A's or host B's dockerd; what the cloud did is read from the fake EC2 through the AWS SDK, and what the disk
/// holds from containers (sha256 of a random file).
/// </summary>
[Collection(EbsTwoHostCollection.Name)]
public sealed class EbsTwoHostTests(EbsHostsFixture rig) : TwoHostTests<EbsHost>(rig, "e2e-ebs-"), IAsyncLifetime
{

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Leaves the rig as the next test expects it: no faults, both instances running, no container of this test.</summary>
    public async Task DisposeAsync()
    {
        rig.Ec2.ClearFaults();
        rig.Ec2.AttachDelay = TimeSpan.FromMilliseconds(50);
        rig.Ec2.SetInstanceState(A.InstanceId, FakeInstanceState.Running);
        rig.Ec2.SetInstanceState(B.InstanceId, FakeInstanceState.Running);
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
        Assert.Equal(afterA.VolumeId, afterB.VolumeId);
        Assert.Equal(afterA.VolumeId, await A.Docker.MustAsync("volume", "inspect", "-f", "{{index .Status \"volumeId\"}}", name));
        Assert.Contains(afterA.Tags, t => t.Key == "csvol/formatted" && t.Value == "ext4");
        await AwaitNoLoopDevicesAsync();
    }

    [Fact]
    public async Task MountOnA_WhileContainerOnBHoldsIt_ErrNamesBsInstanceAndWhatToDo()
    {
        var name = await CreateOnAAsync();
        _ = await A.MustAsync(await A.RunAsync(name, WriteScript));
        await B.AwaitListedAsync(name, Bound);
        await HoldAsync(B, name);

        var refused = await A.RunAsync(name, ReadScript);

        Assert.False(refused.Succeeded, refused.Describe());
        Assert.Contains($"is attached to instance {B.InstanceId}, which is running", refused.StdErr, StringComparison.Ordinal);
        Assert.Contains("stop the container using it there (or stop that instance), then try again", refused.StdErr, StringComparison.Ordinal);
        var stillB = Assert.Single((await rig.EbsVolumeNamedAsync(name)).Attachments ?? []);
        Assert.Equal(B.InstanceId, stillB.InstanceId);
    }

    [Fact]
    public async Task MountOnA_HolderBsInstanceStopped_TakesItOverAndReadsTheData()
    {
        var name = await CreateOnAAsync();
        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        await B.AwaitListedAsync(name, Bound);
        var holder = await HoldAsync(B, name);
        Assert.Equal(B.InstanceId, Assert.Single((await rig.EbsVolumeNamedAsync(name)).Attachments ?? []).InstanceId);

        rig.Ec2.SetInstanceState(B.InstanceId, FakeInstanceState.Stopped);
        var read = await A.MustAsync(await A.RunAsync(name, ReadScript));

        Assert.Equal(written, read);
        _ = await rig.AwaitDetachedAsync(name, Bound);
        // B's container still "runs" on an instance EC2 calls stopped; removing it must not detach anything of A's.
        rig.Ec2.SetInstanceState(B.InstanceId, FakeInstanceState.Running);
        _ = await B.Docker.MustAsync("rm", "-f", holder);
        await AwaitNoLoopDevicesAsync();
    }

    [Fact]
    public async Task Run_PluginKilledMidAttach_RepeatConvergesOnOneVolumeAndAttachment()
    {
        var name = await CreateOnAAsync();
        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        _ = await rig.AwaitDetachedAsync(name, Bound);
        var attachesBefore = rig.Ec2.Calls("AttachVolume");

        var (firstResult, killed, restarted) = await RunKilledMidAttachAsync(name, () => rig.Ec2.Calls("AttachVolume"), "host A's AttachVolume call", () => rig.Ec2.AttachDelay = TimeSpan.FromSeconds(8), () => rig.Ec2.AttachDelay = TimeSpan.FromMilliseconds(50));
        var read = firstResult.Succeeded ? firstResult : await RepeatUntilSucceededAsync(() => A.RunAsync(name, ReadScript));

        Assert.NotEqual(killed, restarted);
        Assert.Equal("true", await A.Docker.MustAsync("plugin", "inspect", "-f", "{{.Enabled}}", EbsHost.PluginName));
        Assert.Equal(written, await A.MustAsync(read));
        var volume = await rig.AwaitDetachedAsync(name, Bound); // exactly one EBS volume carries the name
        // The restarted plugin either finds its own attachment and waits for it, or releases it at start-up (no
        // container holds the volume) and attaches again for the repeat: never a third attach, never two at once
        // (the fake refuses a second attachment with VolumeInUse, which would fail the run).
        Assert.InRange(rig.Ec2.Calls("AttachVolume"), attachesBefore + 1, attachesBefore + 2);
        Assert.Equal(volume.VolumeId, Assert.Single(await rig.EbsVolumesNamedAsync(name)).VolumeId);
        await AwaitNoLoopDevicesAsync();
    }

    /// <summary>Nobody repeats the run: the disk must not stay attached to A, or B is refused for a container that does not exist.</summary>
    [Fact]
    public async Task Run_PluginKilledMidAttachAndNotRepeated_RestartedPluginReleasesTheDiskForB()
    {
        var name = await CreateOnAAsync();
        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        _ = await rig.AwaitDetachedAsync(name, Bound);

        var (firstResult, _, _) = await RunKilledMidAttachAsync(name, () => rig.Ec2.Calls("AttachVolume"), "host A's AttachVolume call", () => rig.Ec2.AttachDelay = TimeSpan.FromSeconds(8), () => rig.Ec2.AttachDelay = TimeSpan.FromMilliseconds(50));

        Assert.False(firstResult.Succeeded, firstResult.Describe()); // dockerd's retry reaches the new plugin without a body
        _ = await rig.AwaitDetachedAsync(name, Bound);
        await B.AwaitListedAsync(name, Bound);
        Assert.Equal(written, await B.MustAsync(await B.RunAsync(name, ReadScript)));
        await AwaitNoLoopDevicesAsync();
    }

    [Fact]
    public async Task CreateWriteRead_ThrottlingAnd5xxBursts_SucceedWithinBound()
    {
        (string Action, bool Throttle, int Count)[] faults =
        [
            ("CreateVolume", true, 3), ("AttachVolume", false, 3), ("DescribeInstances", true, 2), ("CreateTags", false, 2), ("DetachVolume", true, 2),
        ];
        await WriteAndReadThroughFaultsAsync(
            faults,
            (action, throttle, count) =>
            {
                if (throttle)
                {
                    rig.Ec2.ThrottleNext(action, count);
                }
                else
                {
                    rig.Ec2.FailNext(action, count);
                }
            },
            rig.Ec2.Calls,
            CreateOnAAsync,
            name => rig.AwaitDetachedAsync(name, Bound));
    }

    /// <summary><c>docker volume create -d csvol/ebs -o size=1 NAME</c> on A; the fake then holds exactly one volume of that name.</summary>
    private async Task<string> CreateOnAAsync()
    {
        var name = NewVolumeName();
        var created = await A.Docker.RunAsync("volume", "create", "-d", EbsHost.PluginName, "-o", "size=1", "--", name);
        if (!created.Succeeded)
        {
            throw new CommandFailedException(created.Describe() + "\n" + await A.LogTailAsync());
        }

        var volume = await rig.EbsVolumeNamedAsync(name);
        Assert.Equal(1, volume.Size);
        Assert.Equal(EbsHostsFixture.Zone, volume.AvailabilityZone);
        return name;
    }
}
