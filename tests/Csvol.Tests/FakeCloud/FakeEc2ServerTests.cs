using Amazon.EC2;
using Amazon.EC2.Model;
using Csvol.FakeCloud.Ec2;
using Csvol.Tests.Support;

namespace Csvol.Tests.FakeCloud;

public sealed class FakeEc2ServerTests : IAsyncLifetime
{
    private const string Instance = "i-0aaaaaaaaaaaaaaa1";
    private const string OtherInstance = "i-0bbbbbbbbbbbbbbb2";
    private readonly TempDir _dir = new();
    private FakeEc2Server _sut = null!;
    private AmazonEC2Client _ec2 = null!;

    public async Task InitializeAsync()
    {
        _sut = await FakeEc2Server.StartAsync(new FakeEc2Options
        {
            DataDirectory = _dir.Sub("data"),
            DeviceRoot = _dir.Sub("dev"),
            DeleteDataOnDispose = true,
            CreateDelay = TimeSpan.FromMilliseconds(20),
            AttachDelay = TimeSpan.FromMilliseconds(20),
            DetachDelay = TimeSpan.FromMilliseconds(20),
        });
        _sut.AddInstance(Instance, "us-east-1a");
        _sut.AddInstance(OtherInstance, "us-east-1a");
        _ec2 = Ec2Clients.For(_sut.BaseUri);
    }

    public async Task DisposeAsync()
    {
        _ec2.Dispose();
        await _sut.DisposeAsync();
        Assert.Empty(await LoopsBackedBy(_dir.Path));
        _dir.Dispose();
    }

    [Fact]
    public async Task CreateVolume_WithTags_DescribeByTagFilterFindsIt()
    {
        var created = (await _ec2.CreateVolumeAsync(Ec2Clients.Request(3, ("csvol/name", "data1"), ("csvol/managed", "true")))).Volume;
        _ = await _ec2.CreateVolumeAsync(Ec2Clients.Request(3, ("csvol/name", "data2")));

        var found = (await _ec2.DescribeVolumesAsync(new DescribeVolumesRequest
        {
            Filters = [new Filter("tag:csvol/name", ["data1"]), new Filter("tag-key", ["csvol/managed"])],
        })).Volumes;

        Assert.Equal("creating", created.State);
        var volume = Assert.Single(found);
        Assert.Equal(created.VolumeId, volume.VolumeId);
        Assert.Equal(3, volume.Size);
        Assert.Equal(VolumeType.Gp3, volume.VolumeType);
        Assert.Contains(volume.Tags, t => t.Key == "csvol/name" && t.Value == "data1");
        Assert.Equal("available", (await _ec2.WaitForAsync(created.VolumeId, "available")).State);
    }

    [Fact]
    public async Task DescribeVolumes_SevenVolumesMaxResultsFive_TwoPages()
    {
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            ids.Add((await _ec2.CreateVolumeAsync(Ec2Clients.Request(1))).Volume.VolumeId);
        }

        var first = await _ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 5 });
        var second = await _ec2.DescribeVolumesAsync(new DescribeVolumesRequest { MaxResults = 5, NextToken = first.NextToken });

        Assert.Equal(5, first.Volumes.Count);
        Assert.NotNull(first.NextToken);
        Assert.Equal(2, second.Volumes.Count);
        Assert.Null(second.NextToken);
        Assert.Equal(ids.Order(), first.Volumes.Concat(second.Volumes).Select(v => v.VolumeId).Order());
    }

    [Fact]
    public async Task CreateVolume_SameClientToken_SameVolumeUnlessParametersDifferOrItWasDeleted()
    {
        var request = Ec2Clients.Request(2, ("csvol/name", "data1"));
        request.ClientToken = "token-data1";

        var first = (await _ec2.CreateVolumeAsync(request)).Volume;
        var again = (await _ec2.CreateVolumeAsync(request)).Volume;
        request.Size = 4;
        var mismatch = await Assert.ThrowsAsync<AmazonEC2Exception>(() => _ec2.CreateVolumeAsync(request));
        var volumes = (await _ec2.DescribeVolumesAsync(new DescribeVolumesRequest())).Volumes;
        _ = await _ec2.WaitForAsync(first.VolumeId, "available");
        _ = await _ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = first.VolumeId });
        request.Size = 2;
        var deleted = await Assert.ThrowsAsync<AmazonEC2Exception>(() => _ec2.CreateVolumeAsync(request));

        Assert.Equal(first.VolumeId, again.VolumeId);
        Assert.Equal("IdempotentParameterMismatch", mismatch.ErrorCode);
        Assert.Single(volumes);
        Assert.Equal("IdempotentParameterMismatch", deleted.ErrorCode);
        Assert.Contains("already deleted", deleted.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttachVolume_RealBlockDevice_DataSurvivesDetachAndAttach()
    {
        Root.Require();
        var id = (await _ec2.CreateVolumeAsync(Ec2Clients.Request(1))).Volume.VolumeId;
        _ = await _ec2.WaitForAsync(id, "available");
        var byId = Path.Combine(_dir.Sub("dev"), "disk", "by-id", "nvme-Amazon_Elastic_Block_Store_" + id.Replace("-", "", StringComparison.Ordinal));
        var payload = "csvol was here"u8.ToArray();

        var attach = (await _ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = id, InstanceId = Instance, Device = "/dev/xvdba" })).Attachment;
        _ = await _ec2.WaitForAsync(id, "in-use", "attached");
        var loop = new FileInfo(byId).LinkTarget!;
        Assert.Equal("attaching", attach.State);
        Assert.StartsWith("/dev/loop", loop, StringComparison.Ordinal);
        Assert.Equal(loop, new FileInfo(_dir.Sub("dev", "xvdba")).LinkTarget);
        Assert.Equal("vol" + id[4..], (await File.ReadAllTextAsync(_dir.Sub("dev", "sys", "block", Path.GetFileName(loop), "device", "serial"))).Trim());
        Assert.Equal((1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), (await ProcessRunner.RunAsync("blockdev", "--getsize64", loop)).Trim());
        await using (var device = new FileStream(loop, FileMode.Open, FileAccess.Write))
        {
            device.Position = 4096;
            await device.WriteAsync(payload);
            device.Flush(flushToDisk: true);
        }

        _ = await _ec2.DetachVolumeAsync(new DetachVolumeRequest { VolumeId = id, InstanceId = Instance });
        _ = await _ec2.WaitForAsync(id, "available");
        Assert.False(Path.Exists(byId));
        Assert.Empty(await LoopsBackedBy(_dir.Path));

        _ = await _ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = id, InstanceId = Instance, Device = "/dev/xvdbb" });
        _ = await _ec2.WaitForAsync(id, "in-use", "attached");
        var read = new byte[payload.Length];
        await using (var device = new FileStream(new FileInfo(byId).LinkTarget!, FileMode.Open, FileAccess.Read))
        {
            device.Position = 4096;
            await device.ReadExactlyAsync(read);
        }

        Assert.Equal(payload, read);
        Assert.Empty(_sut.BackgroundErrors);
    }

    [Fact]
    public async Task DeleteVolume_WhileAttached_VolumeInUse()
    {
        var id = await AttachedVolumeAsync(Instance, "/dev/xvdba");

        var error = await Assert.ThrowsAsync<AmazonEC2Exception>(() => _ec2.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = id }));

        Assert.Equal("VolumeInUse", error.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, error.StatusCode);
    }

    [Fact]
    public async Task AttachVolume_AttachedToAnotherInstance_VolumeInUse()
    {
        var id = await AttachedVolumeAsync(Instance, "/dev/xvdba");

        var error = await Assert.ThrowsAsync<AmazonEC2Exception>(() =>
            _ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = id, InstanceId = OtherInstance, Device = "/dev/xvdba" }));

        Assert.Equal("VolumeInUse", error.ErrorCode);
    }

    [Fact]
    public async Task AttachVolume_DeviceNameTakenOnInstance_InvalidParameterValue()
    {
        _ = await AttachedVolumeAsync(Instance, "/dev/xvdba");
        var second = (await _ec2.CreateVolumeAsync(Ec2Clients.Request(1))).Volume.VolumeId;
        _ = await _ec2.WaitForAsync(second, "available");

        var error = await Assert.ThrowsAsync<AmazonEC2Exception>(() =>
            _ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = second, InstanceId = Instance, Device = "/dev/xvdba" }));

        Assert.Equal("InvalidParameterValue", error.ErrorCode);
        Assert.Contains("already in use", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThrottleNext_TwoCalls_RequestLimitExceededThenSuccess()
    {
        _sut.ThrottleNext("DescribeVolumes", 2);
        _sut.FailNext("DescribeInstances", 1);

        var throttled = await Assert.ThrowsAsync<AmazonEC2Exception>(() => _ec2.DescribeVolumesAsync(new DescribeVolumesRequest()));
        _ = await Assert.ThrowsAsync<AmazonEC2Exception>(() => _ec2.DescribeVolumesAsync(new DescribeVolumesRequest()));
        var failed = await Assert.ThrowsAsync<AmazonEC2Exception>(() => _ec2.DescribeInstancesAsync(new DescribeInstancesRequest()));
        _ = await _ec2.DescribeVolumesAsync(new DescribeVolumesRequest());

        Assert.Equal("RequestLimitExceeded", throttled.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, throttled.StatusCode);
        Assert.Equal("InternalError", failed.ErrorCode);
        Assert.Equal(3, _sut.Calls("DescribeVolumes"));
    }

    [Fact]
    public async Task StickAttach_UntilReleased_StaysAttachingAndForcedDetachFreesIt()
    {
        var id = (await _ec2.CreateVolumeAsync(Ec2Clients.Request(1))).Volume.VolumeId;
        _ = await _ec2.WaitForAsync(id, "available");
        _sut.StickAttach();

        _ = await _ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = id, InstanceId = Instance, Device = "/dev/xvdba" });
        await Task.Delay(200);
        var stuck = await _ec2.DescribeAsync(id);
        _ = await _ec2.DetachVolumeAsync(new DetachVolumeRequest { VolumeId = id, InstanceId = Instance, Force = true });
        _sut.ReleaseAttach();

        Assert.Equal("attaching", stuck.Attachments.Single().State);
        _ = await _ec2.WaitForAsync(id, "available");
        Assert.Empty(await LoopsBackedBy(_dir.Path));
    }

    [Fact]
    public async Task StickDetach_UntilReleased_StaysDetachingWithItsDevice()
    {
        var id = await AttachedVolumeAsync(Instance, "/dev/xvdba");
        _sut.StickDetach();

        _ = await _ec2.DetachVolumeAsync(new DetachVolumeRequest { VolumeId = id, InstanceId = Instance });
        await Task.Delay(200);
        var stuck = await _ec2.DescribeAsync(id);
        var loops = await LoopsBackedBy(_dir.Path);
        _sut.ReleaseDetach();

        Assert.Equal(("in-use", "detaching"), (stuck.State.Value, stuck.Attachments.Single().State.Value));
        _ = Assert.Single(loops);
        _ = await _ec2.WaitForAsync(id, "available");
        Assert.Empty(await LoopsBackedBy(_dir.Path));
    }

    [Fact]
    public async Task DescribeInstances_StateAndAttachedVolume_AsSet()
    {
        var id = await AttachedVolumeAsync(Instance, "/dev/xvdbc");
        _sut.SetInstanceState(Instance, FakeInstanceState.Stopped);

        var instance = (await _ec2.DescribeInstancesAsync(new DescribeInstancesRequest { InstanceIds = [Instance] }))
            .Reservations.Single().Instances.Single();

        Assert.Equal(InstanceStateName.Stopped, instance.State.Name);
        Assert.Equal("us-east-1a", instance.Placement.AvailabilityZone);
        var mapping = Assert.Single(instance.BlockDeviceMappings);
        Assert.Equal(("/dev/xvdbc", id), (mapping.DeviceName, mapping.Ebs.VolumeId));
    }

    [Fact]
    public async Task CreateSnapshot_ThenModifyVolume_SnapshotCompletesAndSizeGrows()
    {
        var id = (await _ec2.CreateVolumeAsync(Ec2Clients.Request(1, ("csvol/name", "data1")))).Volume.VolumeId;
        _ = await _ec2.WaitForAsync(id, "available");

        var snapshot = (await _ec2.CreateSnapshotAsync(new CreateSnapshotRequest { VolumeId = id })).Snapshot;
        var modification = (await _ec2.ModifyVolumeAsync(new ModifyVolumeRequest { VolumeId = id, Size = 2 })).VolumeModification;
        _ = await _ec2.CreateTagsAsync(new CreateTagsRequest { Resources = [snapshot.SnapshotId], Tags = [new Tag("csvol/name", "data1")] });

        Assert.Equal((1, 2), (modification.OriginalSize, modification.TargetSize));
        Assert.Equal(2, (await _ec2.DescribeAsync(id)).Size);
        Assert.True(await Eventually.TrueAsync(async () =>
            (await _ec2.DescribeSnapshotsAsync(new DescribeSnapshotsRequest { Filters = [new Filter("tag:csvol/name", ["data1"])] }))
                .Snapshots?.SingleOrDefault()?.State == SnapshotState.Completed));
    }

    private async Task<string> AttachedVolumeAsync(string instance, string device)
    {
        Root.Require();
        var id = (await _ec2.CreateVolumeAsync(Ec2Clients.Request(1))).Volume.VolumeId;
        _ = await _ec2.WaitForAsync(id, "available");
        _ = await _ec2.AttachVolumeAsync(new AttachVolumeRequest { VolumeId = id, InstanceId = instance, Device = device });
        _ = await _ec2.WaitForAsync(id, "in-use", "attached");
        return id;
    }

    /// <summary>Loop devices whose backing file lies under <paramref name="directory"/>; none may outlive a test.</summary>
    internal static async Task<IReadOnlyList<string>> LoopsBackedBy(string directory) =>
        [.. (await ProcessRunner.RunAsync("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(directory, StringComparison.Ordinal))];
}
