using Azure;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Csvol.FakeCloud.Arm;
using Csvol.Tests.Support;

namespace Csvol.Tests.FakeCloud;

public sealed class FakeArmServerTests : IAsyncLifetime
{
    private const string Group = "csvol-rg";
    private const string Vm = "vm-a";
    private const string OtherVm = "vm-b";
    private readonly TempDir _dir = new();
    private FakeArmServer _sut = null!;
    private ArmClient _arm = null!;

    public async Task InitializeAsync()
    {
        _sut = await FakeArmServer.StartAsync(new FakeArmOptions
        {
            DataDirectory = _dir.Sub("data"),
            DeviceRoot = _dir.Sub("dev"),
            DeleteDataOnDispose = true,
        });
        _ = _sut.AddVirtualMachine(Group, Vm, zone: "1");
        _ = _sut.AddVirtualMachine(Group, OtherVm, zone: "1");
        _arm = ArmClients.For(_sut.BaseUri, _sut.SubscriptionId, _sut.CertificateAuthority);
    }

    public async Task DisposeAsync()
    {
        await _sut.DisposeAsync();
        Assert.Empty(await FakeEc2ServerTests.LoopsBackedBy(_dir.Path));
        _dir.Dispose();
    }

    private ResourceGroupResource ResourceGroup =>
        _arm.GetResourceGroupResource(ResourceGroupResource.CreateResourceIdentifier(_sut.SubscriptionId, Group));

    [Fact]
    public async Task CreateDisk_LongRunning_GetShowsWhatWasAsked()
    {
        var created = await CreateDiskAsync("data1", 4, ("csvol.name", "data1"));

        var got = (await _arm.GetManagedDiskResource(created.Id).GetAsync()).Value.Data;

        Assert.Equal(4, got.DiskSizeGB);
        Assert.Equal(DiskStorageAccountType.PremiumLrs, got.Sku.Name);
        Assert.Equal(DiskState.Unattached, got.DiskState);
        Assert.Equal("Succeeded", got.ProvisioningState);
        Assert.Equal(["1"], got.Zones);
        Assert.Equal("data1", got.Tags["csvol.name"]);
        Assert.Equal(1, _sut.Calls("PUT disks"));
        Assert.True(_sut.Calls("GET operations") >= 1);
    }

    [Fact]
    public async Task CreateDisk_TwoInProgressPolls_SdkWaitsUntilSucceeded()
    {
        _sut.InProgressPolls = 2;

        var created = await CreateDiskAsync("slow1", 1);

        Assert.Equal("Succeeded", created.Data.ProvisioningState);
        Assert.Equal(3, _sut.Calls("GET operations"));
    }

    [Fact]
    public async Task StickOperations_UntilReleased_DiskStaysUpdatingThenCompletes()
    {
        _sut.StickOperations();

        var operation = await ResourceGroup.GetManagedDisks().CreateOrUpdateAsync(WaitUntil.Started, "stuck1", DiskData(1));
        var during = (await ResourceGroup.GetManagedDisks().GetAsync("stuck1")).Value.Data;
        _ = await operation.UpdateStatusAsync();
        var doneDuring = operation.HasCompleted;
        _sut.ReleaseOperations();
        var done = (await operation.WaitForCompletionAsync()).Value.Data;

        Assert.Equal("Updating", during.ProvisioningState);
        Assert.False(doneDuring);
        Assert.Equal("Succeeded", done.ProvisioningState);
    }

    [Fact]
    public async Task ListDisks_FivePagedByTwo_FollowsNextLinkAndFiltersByTag()
    {
        _sut.PageSize = 2;
        for (var i = 0; i < 5; i++)
        {
            _ = await CreateDiskAsync($"list{i}", 1, ("csvol.name", i == 3 ? "wanted" : $"other{i}"), ("csvol.managed", "true"));
        }

        var pages = new List<int>();
        await foreach (var page in ResourceGroup.GetManagedDisks().GetAllAsync().AsPages())
        {
            pages.Add(page.Values.Count);
        }

        var tagged = new List<string>();
        await foreach (var resource in ResourceGroup.GetGenericResourcesAsync(filter: "tagName eq 'csvol.name' and tagValue eq 'wanted'"))
        {
            tagged.Add(resource.Data.Name);
        }

        var managed = 0;
        await foreach (var resource in ResourceGroup.GetGenericResourcesAsync(filter: "tagName eq 'csvol.managed'"))
        {
            managed++;
        }

        Assert.Equal([2, 2, 1], pages);
        Assert.Equal(["list3"], tagged);
        Assert.Equal(5, managed);
    }

    [Fact]
    public async Task GenericResources_UnsupportedFilter_InvalidFilterInQueryString()
    {
        var refused = await Assert.ThrowsAsync<RequestFailedException>(async () =>
        {
            await foreach (var _ in ResourceGroup.GetGenericResourcesAsync(filter: "substringof('data', name)"))
            {
            }
        });

        Assert.Equal((400, "InvalidFilterInQueryString"), (refused.Status, refused.ErrorCode));
    }

    [Fact]
    public async Task CreateDisk_IopsOnPremiumLrsOrZoneOnZrs_InvalidParameterUltraTakesIops()
    {
        var iops = DiskData(1);
        iops.DiskIopsReadWrite = 5000;
        var zrs = DiskData(1);
        zrs.Sku = new DiskSku { Name = DiskStorageAccountType.PremiumZrs };
        var ultra = DiskData(4);
        ultra.Sku = new DiskSku { Name = DiskStorageAccountType.UltraSsdLrs };
        ultra.DiskIopsReadWrite = 5000;
        ultra.DiskMBpsReadWrite = 200;
        var disks = ResourceGroup.GetManagedDisks();

        var iopsRefused = await Assert.ThrowsAsync<RequestFailedException>(() => disks.CreateOrUpdateAsync(WaitUntil.Completed, "iops", iops));
        var zrsRefused = await Assert.ThrowsAsync<RequestFailedException>(() => disks.CreateOrUpdateAsync(WaitUntil.Completed, "zrs", zrs));
        var created = (await disks.CreateOrUpdateAsync(WaitUntil.Completed, "ultra", ultra)).Value.Data;

        Assert.Equal((400, "InvalidParameter"), (iopsRefused.Status, iopsRefused.ErrorCode));
        Assert.Equal((400, "InvalidParameter"), (zrsRefused.Status, zrsRefused.ErrorCode));
        Assert.Equal((5000L, 200L), (created.DiskIopsReadWrite, created.DiskMBpsReadWrite));
    }

    [Fact]
    public async Task AttachAtLun_RealBlockDevice_DataSurvivesDetachAndAttachElsewhere()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        var payload = "csvol on azure"u8.ToArray();

        await AttachAsync(Vm, disk.Id, lun: 0);
        var attached = (await disk.GetAsync()).Value.Data;
        var root = _sut.DeviceRootOf(Group, Vm)!;
        var loop = new FileInfo(Path.Combine(root, "disk", "azure", "scsi1", "lun0")).LinkTarget!;
        var scsi = Path.Combine(root, "sys", "bus", "scsi", "devices", "1:0:0:0");
        Assert.StartsWith("/dev/loop", loop, StringComparison.Ordinal);
        Assert.Equal("MSFT", (await File.ReadAllTextAsync(Path.Combine(scsi, "vendor"))).Trim().ToUpperInvariant());
        Assert.True(Directory.Exists(Path.Combine(scsi, "block", Path.GetFileName(loop))));
        Assert.Equal((1L << 30).ToString(System.Globalization.CultureInfo.InvariantCulture), (await ProcessRunner.RunAsync("blockdev", "--getsize64", loop)).Trim());
        await WriteAsync(loop, payload);

        await DetachAsync(Vm, lun: 0);
        var detached = (await disk.GetAsync()).Value.Data;
        Assert.False(Path.Exists(Path.Combine(root, "disk", "azure", "scsi1", "lun0")));
        Assert.False(Directory.Exists(scsi));
        Assert.Empty(await FakeEc2ServerTests.LoopsBackedBy(_dir.Path));

        await AttachAsync(OtherVm, disk.Id, lun: 3);
        var otherLink = Path.Combine(_sut.DeviceRootOf(Group, OtherVm)!, "disk", "azure", "scsi1", "lun3");
        var read = await ReadAsync(new FileInfo(otherLink).LinkTarget!, payload.Length);

        Assert.Equal((DiskState.Attached, VmId(Vm)), (attached.DiskState, attached.ManagedBy?.ToString()));
        Assert.Equal((DiskState.Unattached, null), (detached.DiskState, detached.ManagedBy));
        Assert.Equal(payload, read);
        Assert.Empty(_sut.BackgroundErrors);
    }

    [Fact]
    public async Task PatchVm_OneInProgressPoll_SdkPollsTheVmNotTheMonitor()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        _sut.InProgressPolls = 1;
        var before = (Operations: _sut.Calls("GET operations"), Vms: _sut.Calls("GET virtualMachines"));

        await AttachAsync(Vm, disk.Id, lun: 0);

        // One GET is AttachAsync's own; then Updating once, then Succeeded.
        Assert.Equal(3, _sut.Calls("GET virtualMachines") - before.Vms);
        Assert.Equal(0, _sut.Calls("GET operations") - before.Operations);
        Assert.Equal("Succeeded", (await VmResource(Vm).GetAsync()).Value.Data.ProvisioningState);
    }

    [Fact]
    public async Task UpdateVm_StorageProfileWithoutDataDisks_DetachesNothing()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        await AttachAsync(Vm, disk.Id, lun: 0);

        _ = await VmResource(Vm).UpdateAsync(WaitUntil.Completed, new VirtualMachinePatch { StorageProfile = new VirtualMachineStorageProfile() });

        var vm = (await VmResource(Vm).GetAsync()).Value.Data;
        Assert.Equal(disk.Id, Assert.Single(vm.StorageProfile.DataDisks).ManagedDisk.Id);
        Assert.Equal(DiskState.Attached, (await disk.GetAsync()).Value.Data.DiskState);
    }

    [Fact]
    public async Task PatchVm_ListWithoutADisk_DetachesIt()
    {
        Root.Require();
        var kept = await CreateDiskAsync("kept", 1);
        var dropped = await CreateDiskAsync("dropped", 1);
        await AttachAsync(Vm, kept.Id, lun: 0);
        await AttachAsync(Vm, dropped.Id, lun: 1);

        var profile = new VirtualMachineStorageProfile();
        profile.DataDisks.Add((await VmResource(Vm).GetAsync()).Value.Data.StorageProfile.DataDisks.Single(d => d.Lun == 0));
        _ = await VmResource(Vm).UpdateAsync(WaitUntil.Completed, new VirtualMachinePatch { StorageProfile = profile });

        Assert.Equal([0], (await VmResource(Vm).GetAsync()).Value.Data.StorageProfile.DataDisks.Select(d => d.Lun));
        Assert.Equal(DiskState.Unattached, (await dropped.GetAsync()).Value.Data.DiskState);
        Assert.False(Path.Exists(Path.Combine(_sut.DeviceRootOf(Group, Vm)!, "disk", "azure", "scsi1", "lun1")));
    }

    [Fact]
    public async Task StickOperations_AttachInFlight_VmUpdatingNoDeviceAndSecondUpdateRefused()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        var other = await CreateDiskAsync("data2", 1);
        var link = Path.Combine(_sut.DeviceRootOf(Group, Vm)!, "disk", "azure", "scsi1", "lun0");
        _sut.StickOperations();

        var attach = AttachAsync(Vm, disk.Id, lun: 0);
        Assert.True(await Eventually.TrueAsync(async () =>
            (await VmResource(Vm).GetAsync()).Value.Data.ProvisioningState == "Updating"));
        var linkDuring = Path.Exists(link);
        var owner = (await disk.GetAsync()).Value.Data.ManagedBy?.ToString();
        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => AttachAsync(Vm, other.Id, lun: 1));
        _sut.ReleaseOperations();
        await attach;

        Assert.False(linkDuring);
        Assert.Equal(VmId(Vm), owner);
        Assert.Equal((409, "OperationNotAllowed"), (refused.Status, refused.ErrorCode));
        Assert.True(Path.Exists(link));
    }

    [Fact]
    public async Task DeviceDelay_AttachSucceeded_DeviceAppearsLater()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        var link = Path.Combine(_sut.DeviceRootOf(Group, Vm)!, "disk", "azure", "scsi1", "lun0");
        _sut.DeviceDelay = TimeSpan.FromSeconds(2);

        await AttachAsync(Vm, disk.Id, lun: 0);
        var rightAfter = Path.Exists(link);

        Assert.False(rightAfter);
        Assert.Equal(DiskState.Attached, (await disk.GetAsync()).Value.Data.DiskState);
        Assert.True(await Eventually.TrueAsync(() => Path.Exists(link)), $"{link} never appeared");
    }

    [Fact]
    public async Task DeleteDisk_WhileAttached_ConflictThenDeletesOnceDetached()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        await AttachAsync(Vm, disk.Id, lun: 1);

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => disk.DeleteAsync(WaitUntil.Completed));
        await DetachAsync(Vm, lun: 1);
        _ = await disk.DeleteAsync(WaitUntil.Completed);

        Assert.Equal((409, "OperationNotAllowed"), (refused.Status, refused.ErrorCode));
        Assert.False((await ResourceGroup.GetManagedDisks().ExistsAsync("data1")).Value);
    }

    [Fact]
    public async Task Attach_DiskOwnedByAnotherVm_ConflictNamesTheVm()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        await AttachAsync(Vm, disk.Id, lun: 0);

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => AttachAsync(OtherVm, disk.Id, lun: 0));

        Assert.Equal((409, "ConflictingUserInput"), (refused.Status, refused.ErrorCode));
        Assert.Contains(Vm, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThrottleAndFailNext_ClientSeesRetryAfterAnd5xxThenSuccess()
    {
        _ = await CreateDiskAsync("data1", 1);
        var before = _sut.Calls("GET disks");
        _sut.ThrottleNext("GET disks", 1, TimeSpan.FromSeconds(7));
        _sut.FailNext("GET disks", 1, status: 503);
        var disks = ResourceGroup.GetManagedDisks();

        var throttled = await Assert.ThrowsAsync<RequestFailedException>(() => disks.GetAsync("data1"));
        var failed = await Assert.ThrowsAsync<RequestFailedException>(() => disks.GetAsync("data1"));
        var got = (await disks.GetAsync("data1")).Value;

        Assert.Equal((429, "TooManyRequests"), (throttled.Status, throttled.ErrorCode));
        Assert.True(throttled.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var after));
        Assert.Equal("7", after);
        Assert.Equal(503, failed.Status);
        Assert.Equal("data1", got.Data.Name);
        Assert.Equal(before + 3, _sut.Calls("GET disks"));
    }

    [Fact]
    public async Task SetPowerState_Deallocated_InstanceViewSaysSoDiskReservedAndDeviceGone()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        await AttachAsync(Vm, disk.Id, lun: 0);
        var link = Path.Combine(_sut.DeviceRootOf(Group, Vm)!, "disk", "azure", "scsi1", "lun0");

        await _sut.SetPowerStateAsync(Group, Vm, FakeVmPowerState.Deallocated);
        var view = (await VmResource(Vm).InstanceViewAsync()).Value;
        var expanded = (await VmResource(Vm).GetAsync(InstanceViewType.InstanceView)).Value.Data.InstanceView;
        var reserved = (await disk.GetAsync()).Value.Data.DiskState;
        var linkWhileDeallocated = Path.Exists(link);
        await _sut.SetPowerStateAsync(Group, Vm, FakeVmPowerState.Running);

        Assert.Contains(view.Statuses, s => s.Code == "PowerState/deallocated");
        Assert.Contains(expanded.Statuses, s => s.Code == "PowerState/deallocated");
        Assert.Equal(DiskState.Reserved, reserved);
        Assert.False(linkWhileDeallocated);
        Assert.True(Path.Exists(link));
    }

    [Fact]
    public async Task Snapshot_OfWrittenDisk_NewDiskFromItHasTheData()
    {
        Root.Require();
        var disk = await CreateDiskAsync("data1", 1);
        await AttachAsync(Vm, disk.Id, lun: 0);
        var payload = "snapshot me"u8.ToArray();
        await WriteAsync(new FileInfo(Path.Combine(_sut.DeviceRootOf(Group, Vm)!, "disk", "azure", "scsi1", "lun0")).LinkTarget!, payload);

        var snapshot = (await ResourceGroup.GetSnapshots().CreateOrUpdateAsync(WaitUntil.Completed, "snap1", new SnapshotData(_sut.Options.Location)
        {
            CreationData = new DiskCreationData(DiskCreateOption.Copy) { SourceResourceId = disk.Id },
            Incremental = true,
        })).Value;
        var copy = (await ResourceGroup.GetManagedDisks().CreateOrUpdateAsync(WaitUntil.Completed, "copy1", new ManagedDiskData(_sut.Options.Location)
        {
            Sku = new DiskSku { Name = DiskStorageAccountType.PremiumLrs },
            CreationData = new DiskCreationData(DiskCreateOption.Copy) { SourceResourceId = snapshot.Id },
            Zones = { "1" },
        })).Value;
        await AttachAsync(OtherVm, copy.Id, lun: 2);
        var read = await ReadAsync(new FileInfo(Path.Combine(_sut.DeviceRootOf(Group, OtherVm)!, "disk", "azure", "scsi1", "lun2")).LinkTarget!, payload.Length);

        Assert.Equal(1, copy.Data.DiskSizeGB);
        Assert.Equal(payload, read);
    }

    [Fact]
    public async Task Client_WithoutThePinnedCa_RefusesTheFake()
    {
        var unpinned = ArmClients.For(_sut.BaseUri, _sut.SubscriptionId, trustedRoot: null);

        var refused = await Assert.ThrowsAsync<RequestFailedException>(() => unpinned.GetManagedDiskResource(
            ManagedDiskResource.CreateResourceIdentifier(_sut.SubscriptionId, Group, "none")).GetAsync());

        Assert.IsType<System.Security.Authentication.AuthenticationException>(refused.InnerException?.InnerException ?? refused.InnerException);
        Assert.Equal(0, _sut.Calls("GET disks"));
    }

    private string VmId(string name) => $"/subscriptions/{_sut.SubscriptionId}/resourceGroups/{Group}/providers/Microsoft.Compute/virtualMachines/{name}";

    private VirtualMachineResource VmResource(string name) =>
        _arm.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(_sut.SubscriptionId, Group, name));

    /// <summary>Attaches the way azuredisk-csi-driver does: the VM's current list plus the new disk.</summary>
    private async Task AttachAsync(string vm, Azure.Core.ResourceIdentifier diskId, int lun)
    {
        var current = (await VmResource(vm).GetAsync()).Value.Data.StorageProfile.DataDisks;
        var profile = new VirtualMachineStorageProfile();
        foreach (var existing in current)
        {
            profile.DataDisks.Add(existing);
        }

        profile.DataDisks.Add(new VirtualMachineDataDisk(lun, DiskCreateOptionType.Attach)
        {
            ManagedDisk = new VirtualMachineManagedDisk { Id = diskId },
            Caching = CachingType.None,
        });
        _ = await VmResource(vm).UpdateAsync(WaitUntil.Completed, new VirtualMachinePatch { StorageProfile = profile });
    }

    /// <summary>Detaches by sending the whole list with <c>toBeDetached</c> on the one to go.</summary>
    private async Task DetachAsync(string vm, int lun)
    {
        var current = (await VmResource(vm).GetAsync()).Value.Data.StorageProfile.DataDisks;
        var profile = new VirtualMachineStorageProfile();
        foreach (var existing in current)
        {
            if (existing.Lun == lun)
            {
                existing.ToBeDetached = true;
                existing.DetachOption = DiskDetachOptionType.ForceDetach;
            }

            profile.DataDisks.Add(existing);
        }

        _ = await VmResource(vm).UpdateAsync(WaitUntil.Completed, new VirtualMachinePatch { StorageProfile = profile });
    }

    private static ManagedDiskData DiskData(int sizeGiB) => new(Azure.Core.AzureLocation.WestEurope)
    {
        DiskSizeGB = sizeGiB,
        Sku = new DiskSku { Name = DiskStorageAccountType.PremiumLrs },
        CreationData = new DiskCreationData(DiskCreateOption.Empty),
        Zones = { "1" },
    };

    private static async Task WriteAsync(string device, byte[] payload)
    {
        await using var stream = new FileStream(device, FileMode.Open, FileAccess.Write);
        stream.Position = 8192;
        await stream.WriteAsync(payload);
        stream.Flush(flushToDisk: true);
    }

    private static async Task<byte[]> ReadAsync(string device, int length)
    {
        var read = new byte[length];
        await using var stream = new FileStream(device, FileMode.Open, FileAccess.Read);
        stream.Position = 8192;
        await stream.ReadExactlyAsync(read);
        return read;
    }

    private async Task<ManagedDiskResource> CreateDiskAsync(string name, int sizeGiB, params (string Key, string Value)[] tags)
    {
        var data = DiskData(sizeGiB);
        foreach (var (key, value) in tags)
        {
            data.Tags[key] = value;
        }

        return (await ResourceGroup.GetManagedDisks().CreateOrUpdateAsync(WaitUntil.Completed, name, data)).Value;
    }
}
