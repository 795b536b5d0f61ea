using System.Diagnostics;
using Amazon.EC2.Model;
using Csvol.Backends.Ebs;
using Csvol.Tests.FakeCloud;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.Ebs;

/// <summary>
/// csvol/ebs where real plugins have lost data or wedged: disks that only look blank, Xen device names, attaches EC2
/// never finishes, names used again, refusals, thousands of volumes, and no instance metadata.
/// </summary>
public sealed class EbsEdgeCaseTests
{
    [Fact]
    public async Task Create_SameNameAgainAfterEachRemove_NewVolumeEveryTime()
    {
        await using var rig = await EbsRig.StartAsync();
        var ids = new List<string>();
        for (var round = 0; round < 3; round++)
        {
            (await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "again", Opts = new { size = "1" } })).AssertOk();
            ids.Add(await IdOfAsync(rig.A, "again"));
            (await rig.A.Client.CallAsync("/VolumeDriver.Remove", new { Name = "again" })).AssertOk();
        }

        using var ec2 = Ec2Clients.For(rig.Ec2.BaseUri);
        var left = (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest())).Volumes ?? [];

        // EC2 refuses the token of a deleted volume: the second and third Create each had to walk to a new one.
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Empty(left);
    }

    [Fact]
    public async Task Create_CredentialsLackPermission_ErrNamesTheActionToGrant()
    {
        await using var rig = await EbsRig.StartAsync();
        rig.Ec2.RefuseNext("CreateVolume", 1, "UnauthorizedOperation", "You are not authorized to perform this operation.", 403);

        var refused = await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "denied", Opts = new { size = "1" } });
        var listed = (await rig.A.Client.CallAsync("/VolumeDriver.List", new { })).AssertOk().Json.GetProperty("Volumes").GetArrayLength();

        Assert.Contains("UnauthorizedOperation", refused.Err, StringComparison.Ordinal);
        Assert.Contains("grant the plugin's credentials or instance role ec2:CreateVolume", refused.Err, StringComparison.Ordinal);
        Assert.Equal(0, listed);
    }

    [Fact]
    public async Task Mount_NewVolumeCarriesAPartitionTable_RefusedNeverFormatted()
    {
        await using var rig = await EbsRig.StartAsync();
        (await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "parted", Opts = new { size = "1" } })).AssertOk();
        var id = await IdOfAsync(rig.A, "parted");
        var table = DosPartitionTable();
        Directory.CreateDirectory(Path.GetDirectoryName(rig.DataFileOf(id))!);
        await File.WriteAllBytesAsync(rig.DataFileOf(id), table); // what a volume restored from a root-disk snapshot starts with

        var refused = await rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "parted", ID = "c1" });
        var firstSector = new byte[512];
        await using (var data = File.OpenRead(rig.DataFileOf(id)))
        {
            await data.ReadExactlyAsync(firstSector);
        }

        Assert.Contains("wipefs finds dos at 0x1fe", refused.Err, StringComparison.Ordinal);
        Assert.Contains("csvol formats only blank disks", refused.Err, StringComparison.Ordinal);
        Assert.Equal(table, firstSector);
        Assert.Empty(TempDir.MountsUnder(rig.A.MountpointOf("parted")));
        (await rig.A.Client.CallAsync("/VolumeDriver.Remove", new { Name = "parted" })).AssertOk();
    }

    [Fact]
    public async Task Mount_XenInstance_DeviceWithoutSerialProvenByNameAndSize()
    {
        await using var rig = await EbsRig.StartAsync();
        rig.Ec2.XenDevices = true;
        (await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "xen", Opts = new { size = "1" } })).AssertOk();
        (await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "xen-wrong", Opts = new { size = "1" } })).AssertOk();
        var wrongId = await IdOfAsync(rig.A, "xen-wrong");
        Directory.CreateDirectory(Path.GetDirectoryName(rig.DataFileOf(wrongId))!);
        await using (var file = new FileStream(rig.DataFileOf(wrongId), FileMode.Create))
        {
            file.SetLength(2L << 30); // the name now leads to a 2 GiB disk: not this 1 GiB volume
        }

        var mountpoint = (await rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "xen", ID = "c1" })).AssertOk()
            .Json.GetProperty("Mountpoint").GetString()!;
        await File.WriteAllTextAsync(Path.Combine(mountpoint, "f"), "on xen");
        var device = (await rig.A.Client.CallAsync("/VolumeDriver.Get", new { Name = "xen" })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("device").GetString();
        (await rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "xen", ID = "c1" })).AssertOk();
        var wrong = await rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "xen-wrong", ID = "c2" });

        Assert.StartsWith("/dev/loop", device, StringComparison.Ordinal);
        Assert.Contains("is Xen block device", wrong.Err, StringComparison.Ordinal);
        Assert.Contains("2147483648 bytes, not the volume's 1 GiB", wrong.Err, StringComparison.Ordinal);
        Assert.Empty(TempDir.MountsUnder(rig.A.MountpointOf("xen-wrong")));
        Assert.False(File.Exists(Path.Combine(rig.Dir.Sub("dev"), "disk", "by-id", "nvme-Amazon_Elastic_Block_Store_" + wrongId.Replace("-", "", StringComparison.Ordinal))));
        (await rig.A.Client.CallAsync("/VolumeDriver.Remove", new { Name = "xen-wrong" })).AssertOk();
    }

    [Fact]
    public async Task Mount_AttachStuckPastTheTimeout_UndoneAndTheNextMountUsesAnotherName()
    {
        await using var rig = await EbsRig.StartAsync(new Dictionary<string, string?> { [EbsSettings.AttachTimeoutVariable] = "2" });
        (await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "stuck", Opts = new { size = "1" } })).AssertOk();
        var id = await IdOfAsync(rig.A, "stuck");
        using var ec2 = Ec2Clients.For(rig.Ec2.BaseUri);
        rig.Ec2.StickAttach();

        var clock = Stopwatch.StartNew();
        var refused = await rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "stuck", ID = "c1" });
        var took = clock.Elapsed;
        var afterRefusal = await ec2.WaitForAsync(id, "available");
        rig.Ec2.ReleaseAttach();
        (await rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "stuck", ID = "c2" })).AssertOk();
        var attached = await ec2.DescribeAsync(id);
        (await rig.A.Client.CallAsync("/VolumeDriver.Unmount", new { Name = "stuck", ID = "c2" })).AssertOk();

        Assert.Contains("attaching to " + EbsRig.InstanceA + " at /dev/xvdba for 2 s", refused.Err, StringComparison.Ordinal);
        Assert.Contains("csvol detached it again", refused.Err, StringComparison.Ordinal);
        Assert.True(took < TimeSpan.FromSeconds(20), $"the stuck Mount took {took}");
        Assert.Empty(afterRefusal.Attachments ?? []);
        Assert.Equal("/dev/xvdbb", Assert.Single(attached.Attachments).Device);
    }

    [Fact]
    public async Task List_MoreVolumesThanOneDescribePage_AllListedOnTheOtherHost()
    {
        await using var rig = await EbsRig.StartAsync();
        (await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "v0000", Opts = new { size = "1" } })).AssertOk();
        using var ec2 = Ec2Clients.For(rig.Ec2.BaseUri);
        var model = await ec2.DescribeAsync(await IdOfAsync(rig.A, "v0000"));
        const int count = 1100; // EC2 pages at 500 at most
        await Parallel.ForAsync(1, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, token) =>
        {
            var name = $"v{i:D4}";
            var tags = model.Tags.Select(t => t.Key is EbsTags.VolumeName or EbsTags.NameTag ? new Tag(t.Key, name) : t).ToList();
            _ = await ec2.CreateVolumeAsync(new CreateVolumeRequest
            {
                AvailabilityZone = "us-east-1a",
                Size = 1,
                TagSpecifications = [new TagSpecification { ResourceType = Amazon.EC2.ResourceType.Volume, Tags = tags }],
            }, token);
        });

        var listedAll = await Eventually.TrueAsync(async () =>
            (await rig.B.Client.CallAsync("/VolumeDriver.List", new { })).AssertOk().Json.GetProperty("Volumes").GetArrayLength() == count);
        var clock = Stopwatch.StartNew();
        var listed = (await rig.B.Client.CallAsync("/VolumeDriver.List", new { })).AssertOk().Json.GetProperty("Volumes");
        var listTook = clock.Elapsed;

        Assert.True(listedAll, "host B never listed all volumes");
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"v{i:D4}"), listed.EnumerateArray().Select(v => v.GetProperty("Name").GetString()).Order(StringComparer.Ordinal));
        Assert.True(listTook < TimeSpan.FromSeconds(5), $"List of {count} volumes took {listTook}; it is answered from the discovery cache");
    }

    [Fact]
    public async Task Calls_InstanceMetadataDown_ClearErrWhileLocalAnswersGoOn()
    {
        await using var rig = await EbsRig.StartAsync();
        (await rig.B.Client.CallAsync("/VolumeDriver.Create", new { Name = "elsewhere", Opts = new { size = "1" } })).AssertOk();
        await rig.ImdsA.DisposeAsync();

        var clock = Stopwatch.StartNew();
        var create = await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "here", Opts = new { size = "1" } });
        var listedElsewhere = await Eventually.TrueAsync(async () => (await rig.A.Client.CallAsync("/VolumeDriver.Get", new { Name = "elsewhere" })).Err is null);
        var mount = await rig.A.Client.CallAsync("/VolumeDriver.Mount", new { Name = "elsewhere", ID = "c1" });
        var took = clock.Elapsed;
        var withZone = await rig.A.Client.CallAsync("/VolumeDriver.Create", new { Name = "zoned", Opts = new { size = "1", availabilityZone = "us-east-1a" } });

        Assert.Contains("instance metadata (IMDSv2 at " + rig.ImdsA.BaseUri, create.Err, StringComparison.Ordinal);
        Assert.Contains("instance metadata", mount.Err, StringComparison.Ordinal);
        Assert.True(listedElsewhere, "host A stopped listing while its IMDS was down");
        Assert.True(took < TimeSpan.FromSeconds(40), $"the calls took {took}");
        withZone.AssertOk(); // the region comes from AWS_REGION, the zone from the option: no IMDS needed
    }

    private static async Task<string> IdOfAsync(PluginHost host, string name) =>
        (await host.Client.CallAsync("/VolumeDriver.Get", new { Name = name })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("volumeId").GetString()!;

    /// <summary>A DOS partition table with one Linux partition: no file system for blkid's TYPE, a signature for wipefs.</summary>
    private static byte[] DosPartitionTable()
    {
        var sector = new byte[512];
        byte[] entry = [0x00, 0x20, 0x21, 0x00, 0x83, 0xfe, 0xff, 0xff];
        entry.CopyTo(sector, 446);
        BitConverter.GetBytes(2048u).CopyTo(sector, 454);
        BitConverter.GetBytes(100_000u).CopyTo(sector, 458);
        sector[510] = 0x55;
        sector[511] = 0xaa;
        return sector;
    }
}
