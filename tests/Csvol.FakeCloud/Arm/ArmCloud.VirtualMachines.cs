using System.Text.Json.Nodes;

namespace Csvol.FakeCloud.Arm;

internal sealed partial class ArmCloud
{
    private const int MaxLun = 63;

    public string AddVirtualMachine(string resourceGroup, string name, string? zone, string? deviceRoot, FakeVmPowerState state)
    {
        var id = ResourceId(resourceGroup, "virtualMachines", name);
        lock (_gate)
        {
            _ = _resourceGroups.TryAdd(resourceGroup, _options.Location);
            _vms[id] = new ArmVm
            {
                Id = id,
                Name = name,
                ResourceGroup = resourceGroup,
                Location = _options.Location,
                Zone = zone,
                VmId = Guid.NewGuid().ToString(),
                DeviceRoot = _devices is null ? null : deviceRoot ?? Path.Combine(_options.DeviceRoot!, name),
                PowerState = state,
            };
        }

        return id;
    }

    public string? DeviceRoot(string resourceGroup, string name)
    {
        lock (_gate)
        {
            return Vm(resourceGroup, name).DeviceRoot;
        }
    }

    public string VmId(string resourceGroup, string name)
    {
        lock (_gate)
        {
            return Vm(resourceGroup, name).VmId;
        }
    }

    /// <summary>Sets the power state; a VM that is not running has no guest, so its disks' devices go (and come back on start).</summary>
    public async Task SetPowerStateAsync(string resourceGroup, string name, FakeVmPowerState state)
    {
        ArmVm vm;
        lock (_gate)
        {
            vm = Vm(resourceGroup, name);
            vm.PowerState = state;
        }

        await SyncDevicesAsync(vm);
    }

    private ArmVm Vm(string resourceGroup, string name) =>
        _vms.TryGetValue(ResourceId(resourceGroup, "virtualMachines", name), out var vm)
            ? vm
            : throw ArmError.NotFound("Microsoft.Compute/virtualMachines", name, resourceGroup);

    private async Task<ArmAnswer> VirtualMachinesAsync(ArmRequest request)
    {
        if (request.Name is null)
        {
            throw new ArmError(405, "MethodNotAllowed", "The fake ARM lists no VMs; add them with AddVirtualMachine.");
        }

        return (request.Method, request.Action) switch
        {
            ("GET", null) => GetVm(request),
            ("GET", "instanceView") => InstanceView(request),
            ("PUT" or "PATCH", null) => await UpdateVmAsync(request),
            _ => throw new ArmError(405, "MethodNotAllowed", $"{request.Method} {request.Action} on a VM"),
        };
    }

    private ArmAnswer GetVm(ArmRequest request)
    {
        var expand = request.Query["$expand"].ToString();
        lock (_gate)
        {
            var vm = Vm(request.ResourceGroup!, request.Name!);
            var state = ReportedState(vm);
            if (vm.Updating is { Done: true, InProgressPollsLeft: > 0 } operation)
            {
                operation.InProgressPollsLeft--;
            }

            return new ArmAnswer(200, ArmJson.VirtualMachine(vm, state, expand.Equals("instanceView", StringComparison.OrdinalIgnoreCase), _time.GetUtcNow()));
        }
    }

    private ArmAnswer InstanceView(ArmRequest request)
    {
        lock (_gate)
        {
            return new ArmAnswer(200, ArmJson.InstanceView(Vm(request.ResourceGroup!, request.Name!), _time.GetUtcNow()));
        }
    }

    /// <summary>
    /// PUT or PATCH of a VM. Only <c>properties.storageProfile.dataDisks</c> matters here, and as on Azure a
    /// list that is sent replaces the set: a disk left out is detached, one with <c>toBeDetached</c> is
    /// detached, a new LUN with <c>createOption: Attach</c> and <c>managedDisk.id</c> is attached. A body
    /// without <c>dataDisks</c> (what an untouched storage profile serialises to) changes nothing.
    /// Answers 200 with provisioningState Updating and <c>Azure-AsyncOperation</c>.
    /// </summary>
    private async Task<ArmAnswer> UpdateVmAsync(ArmRequest request)
    {
        var body = request.Body as JsonObject ?? throw new ArmError(400, "InvalidRequestContent", "The request content was empty.");
        ArmVm vm;
        ArmOperation operation;
        lock (_gate)
        {
            vm = Vm(request.ResourceGroup!, request.Name!);
            if (vm.Updating is { Done: false })
            {
                throw ArmError.Conflict("OperationNotAllowed", $"Operation '{request.Method}' is not allowed on VM '{vm.Name}' since the VM is being updated; retry later.");
            }

            if (body["properties"]?["storageProfile"]?["dataDisks"] is JsonArray requested)
            {
                ApplyDataDisks(vm, requested);
            }

            vm.ProvisioningState = "Updating";
            operation = NewOperation();
            vm.Updating = operation;
        }

        _ = await StartOperationAsync(
            async cancellationToken =>
            {
                await SyncDevicesAsync(vm);
                lock (_gate)
                {
                    foreach (var gone in vm.DataDisks.Where(d => d.ToBeDetached))
                    {
                        gone.Disk.ManagedBy = null;
                    }

                    _ = vm.DataDisks.RemoveAll(d => d.ToBeDetached);
                    vm.ProvisioningState = "Succeeded";
                }
            },
            _ =>
            {
                lock (_gate)
                {
                    vm.ProvisioningState = "Failed";
                }
            },
            operation);
        lock (_gate)
        {
            var json = ArmJson.VirtualMachine(vm, ReportedState(vm), withInstanceView: false, _time.GetUtcNow());
            return Accepted(request, operation, 200, json, withLocation: false);
        }
    }

    /// <summary>
    /// The SDK ignores the LRO headers of a PATCH answered 200 and polls the VM itself until its
    /// provisioningState is final (cloud-apis.md), so a VM GET counts as a poll: it says Updating
    /// <see cref="InProgressPolls"/> more times once the work is done.
    /// </summary>
    private static string ReportedState(ArmVm vm) =>
        vm.Updating is { Done: true, InProgressPollsLeft: > 0 } ? "Updating" : vm.ProvisioningState;

    /// <summary>Checks and applies the requested data-disk list under the lock, all or nothing.</summary>
    private void ApplyDataDisks(ArmVm vm, JsonArray requested)
    {
        var current = vm.DataDisks.ToDictionary(d => d.Lun);
        var kept = new List<ArmDataDisk>();
        var added = new List<ArmDataDisk>();
        var detaching = new HashSet<int>();
        var seen = new HashSet<int>();
        foreach (var entry in requested.OfType<JsonObject>())
        {
            var lun = entry["lun"]?.GetValue<int>() ?? throw ArmError.Invalid("Required parameter 'lun' is missing (null).");
            if (lun is < 0 or > MaxLun || !seen.Add(lun))
            {
                throw ArmError.Invalid($"LUN {lun} is out of range 0-{MaxLun} or given twice.");
            }

            var diskId = entry["managedDisk"]?["id"]?.GetValue<string>();
            var toBeDetached = entry["toBeDetached"]?.GetValue<bool>() ?? false;
            if (current.TryGetValue(lun, out var existing))
            {
                if (diskId is not null && !diskId.Equals(existing.Disk.Id, StringComparison.OrdinalIgnoreCase))
                {
                    throw ArmError.Invalid($"A disk at LUN {lun} already exists on VM '{vm.Name}'.");
                }

                kept.Add(existing);
                if (toBeDetached)
                {
                    _ = detaching.Add(lun);
                }

                continue;
            }

            if (toBeDetached)
            {
                throw ArmError.Invalid($"No data disk at LUN {lun} on VM '{vm.Name}' to detach.");
            }

            var createOption = entry["createOption"]?.GetValue<string>();
            if (!"Attach".Equals(createOption, StringComparison.OrdinalIgnoreCase) || diskId is null)
            {
                throw ArmError.Invalid($"The fake ARM attaches existing managed disks only (createOption Attach with managedDisk.id), not '{createOption}'.");
            }

            var disk = _disks.GetValueOrDefault(diskId) ?? throw new ArmError(404, "NotFound", $"Disk {diskId} was not found.");
            CheckAttachable(vm, disk, entry["caching"]?.GetValue<string>());
            if (added.Any(a => a.Disk == disk) || vm.DataDisks.Any(d => d.Disk == disk))
            {
                throw ArmError.Invalid($"Disk '{disk.Name}' is given twice for VM '{vm.Name}'.");
            }

            added.Add(new ArmDataDisk { Lun = lun, Disk = disk, Caching = entry["caching"]?.GetValue<string>() ?? "None" });
        }

        foreach (var dataDisk in vm.DataDisks)
        {
            if (!seen.Contains(dataDisk.Lun) || detaching.Contains(dataDisk.Lun))
            {
                dataDisk.ToBeDetached = true;
            }
        }

        foreach (var dataDisk in added)
        {
            dataDisk.Disk.ManagedBy = vm.Id;
            vm.DataDisks.Add(dataDisk);
        }
    }

    private void CheckAttachable(ArmVm vm, ArmDisk disk, string? caching)
    {
        if (disk.ManagedBy is { } owner)
        {
            var beingDetached = _vms.GetValueOrDefault(owner)?.DataDisks.Any(d => d.Disk == disk && d.ToBeDetached) == true;
            throw beingDetached
                ? ArmError.Conflict("AttachDiskWhileBeingDetached", $"Cannot attach data disk '{disk.Name}' to VM '{vm.Name}' because the disk is currently being detached. Please wait until the disk is completely detached and then try again.")
                : ArmError.Conflict("ConflictingUserInput", $"Disk '{disk.Name}' cannot be attached as the disk is already owned by VM '{owner}'.");
        }

        if (disk.ProvisioningState != "Succeeded")
        {
            throw ArmError.Conflict("OperationNotAllowed", $"Disk '{disk.Name}' cannot be attached while its provisioning state is {disk.ProvisioningState}.");
        }

        if (!disk.Location.Equals(vm.Location, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmError(400, "BadRequest", $"Disk '{disk.Name}' is in {disk.Location} but VM '{vm.Name}' is in {vm.Location}.");
        }

        if (disk.Zones.Count > 0 && disk.Zones[0] != vm.Zone)
        {
            throw new ArmError(400, "BadRequest", $"Disk '{disk.Name}' is in zone {disk.Zones[0]} but VM '{vm.Name}' is in zone {vm.Zone ?? "(none)"}.");
        }

        if (HasProvisionedPerformance(disk.Sku) && caching is not (null or "None"))
        {
            throw ArmError.Invalid($"Caching '{caching}' is not supported for {disk.Sku} disks; use None.");
        }
    }

    private static bool Wanted(ArmVm vm, ArmDataDisk dataDisk) =>
        vm.PowerState == FakeVmPowerState.Running && !dataDisk.ToBeDetached && vm.DataDisks.Contains(dataDisk);

    /// <summary>The late device of <see cref="DeviceDelay"/>, unless the disk was detached or the VM stopped meanwhile.</summary>
    private async Task AppearAsync(ArmVm vm, ArmDataDisk dataDisk)
    {
        await _deviceLock.WaitAsync(CancellationToken.None);
        try
        {
            int size;
            lock (_gate)
            {
                dataDisk.DevicePending = false;
                if (!Wanted(vm, dataDisk) || dataDisk.LoopDevice is not null)
                {
                    return;
                }

                size = dataDisk.Disk.SizeGiB;
            }

            dataDisk.LoopDevice = await _devices!.AttachAsync(dataDisk.Disk.UniqueId, size, vm.DeviceRoot!, dataDisk.Lun, CancellationToken.None);
        }
        finally
        {
            _ = _deviceLock.Release();
        }
    }

    /// <summary>Makes the VM's devices match its model: one per data disk while it runs and the disk is not being detached.</summary>
    private async Task SyncDevicesAsync(ArmVm vm)
    {
        if (_devices is null || vm.DeviceRoot is null)
        {
            return;
        }

        await _deviceLock.WaitAsync(CancellationToken.None);
        try
        {
            List<(ArmDataDisk DataDisk, bool Wanted, int Size)> plan;
            lock (_gate)
            {
                plan = [.. vm.DataDisks.Select(d => (d, Wanted(vm, d), d.Disk.SizeGiB))];
            }

            foreach (var (dataDisk, wanted, size) in plan)
            {
                if (wanted && dataDisk.LoopDevice is null && !dataDisk.DevicePending && DeviceDelay > TimeSpan.Zero)
                {
                    dataDisk.DevicePending = true;
                    Later(DeviceDelay, () => AppearAsync(vm, dataDisk));
                }
                else if (wanted && dataDisk.LoopDevice is null && !dataDisk.DevicePending)
                {
                    // Not cancellable: a loop device made while disposing must still be recorded, or nothing would release it.
                    dataDisk.LoopDevice = await _devices.AttachAsync(dataDisk.Disk.UniqueId, size, vm.DeviceRoot, dataDisk.Lun, CancellationToken.None);
                }
                else if (!wanted && dataDisk.LoopDevice is { } loop)
                {
                    await _devices.DetachAsync(vm.DeviceRoot, dataDisk.Lun, loop, CancellationToken.None);
                    dataDisk.LoopDevice = null;
                }
            }
        }
        finally
        {
            _ = _deviceLock.Release();
        }
    }
}
