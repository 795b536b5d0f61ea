using Azure;
using Azure.Core;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Csvol.Backends.Disks;
using Csvol.Volumes;

namespace Csvol.Backends.AzureDisk;

/// <summary>Mount and Unmount: attach here by LUN (taking the disk over only from a stopped VM), prove the device, format once, mount.</summary>
internal sealed partial class AzureDiskBackend
{
    private const int AttachAttempts = 8;
    private const int MaxLun = 63;

    /// <summary>One update of a VM at a time from this host: a data-disk list that is sent replaces the VM's whole set.</summary>
    private readonly SemaphoreSlim _vmUpdates = new(1, 1);

    /// <summary>LUNs an attach here got stuck or refused at: tried only after every other LUN.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _failedLuns = new();

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _attachedLuns = new(StringComparer.Ordinal);

    public async Task MountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        var self = await _metadata.GetAsync(cancellationToken);
        var (disk, lun) = await AttachHereAsync(volume.Name, self, cancellationToken);
        var device = await _devices.FindAsync(disk.Data.Name, lun, disk.Data.DiskSizeGB ?? 0, cancellationToken);
        _attachedDevices[volume.Name] = device;
        _attachedLuns[volume.Name] = lun;
        await _formatOnce.MountAsync(
            new DiskToMount(volume.Name, disk.Data.Name, device, volume.Options, TagOf(disk.Data, AzureDiskTags.Formatted), AzureDiskTags.Formatted),
            mountpoint,
            (fsType, t) => MarkFormattedAsync(disk, fsType, t),
            cancellationToken);
    }

    public async Task UnmountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        _mounter.Unmount(mountpoint);
        _ = _attachedDevices.TryRemove(volume.Name, out _);
        _ = _attachedLuns.TryRemove(volume.Name, out _);
        var self = await _metadata.GetAsync(cancellationToken);
        if (await GetDiskAsync(DiskNameOf(volume.Name), cancellationToken) is { Data.ManagedBy: { } holder } disk && SameVm(holder, self))
        {
            await DetachAsync(volume.Name, disk, holder, cancellationToken);
        }
    }

    /// <summary>The disk once it is attached to this VM, and its LUN: already, after a wait, or after attaching it.</summary>
    private async Task<(ManagedDiskResource Disk, int Lun)> AttachHereAsync(string name, VmIdentity self, CancellationToken cancellationToken)
    {
        var diskName = DiskNameOf(name);
        for (var attempt = 0; attempt < AttachAttempts; attempt++)
        {
            var disk = await GetDiskAsync(diskName, cancellationToken)
                ?? throw new VolumeException($"disk {diskName} of volume \"{name}\" no longer exists; was it deleted outside csvol?");
            if (disk.Data.ManagedBy is { } holder && !SameVm(holder, self))
            {
                var power = await PowerStateAsync(holder, cancellationToken);
                if (power is not ("stopped" or "deallocated"))
                {
                    throw new VolumeException(
                        $"volume \"{name}\" (disk {diskName}) is attached to VM {holder.Name}, which is {power}; " +
                        "stop the container using it there (or stop that VM), then try again");
                }

                LogTakeover(name, diskName, holder.Name, power);
                await DetachAsync(name, disk, holder, cancellationToken);
                continue;
            }

            if (disk.Data.Zones.FirstOrDefault() is { } zone && self.Zone is { Length: > 0 } here && zone != here)
            {
                throw new VolumeException(
                    $"volume \"{name}\" (disk {diskName}) is in zone {zone} and this VM ({self.Name}) in zone {here}; a zonal disk attaches only in its own zone");
            }

            await _vmUpdates.WaitAsync(cancellationToken);
            try
            {
                var vm = await GetVmAsync(self.ResourceId, cancellationToken);
                var entry = vm.Data.StorageProfile?.DataDisks.FirstOrDefault(d => SameDisk(d, disk));
                if (entry is not null && entry.ToBeDetached != true)
                {
                    // Attached here already (a repeated Mount, or one a restart interrupted): wait for the update to settle.
                    if (await WaitVmSettledAsync(vm, cancellationToken) is { } settled
                        && settled.Data.StorageProfile?.DataDisks.FirstOrDefault(d => SameDisk(d, disk)) is { } done)
                    {
                        return (disk, done.Lun);
                    }

                    continue;
                }

                if (entry is not null || disk.Data.ManagedBy is not null)
                {
                    _ = await WaitVmSettledAsync(vm, cancellationToken); // a detach from here still running
                    continue;
                }

                var lun = FreeLun(vm.Data, self.Name);
                var patch = new VirtualMachinePatch { StorageProfile = new VirtualMachineStorageProfile() };
                foreach (var existing in vm.Data.StorageProfile?.DataDisks ?? [])
                {
                    patch.StorageProfile.DataDisks.Add(existing);
                }

                patch.StorageProfile.DataDisks.Add(new VirtualMachineDataDisk(lun, DiskCreateOptionType.Attach)
                {
                    ManagedDisk = new VirtualMachineManagedDisk { Id = disk.Id },
                    Caching = Enum.Parse<CachingType>(AzureDiskOptions.CachingOf(OptionsOf(disk.Data) ?? new SortedDictionary<string, string>(), disk.Data.DiskSizeGB)),
                });
                ArmOperation<VirtualMachineResource> operation;
                try
                {
                    operation = await ArmAsync("Microsoft.Compute/virtualMachines/write",
                        t => vm.UpdateAsync(WaitUntil.Started, patch, t), cancellationToken, status => status is 400 or 409);
                }
                catch (RequestFailedException ex) when (ex.Status == 409)
                {
                    LogAttachRaced(name, diskName, ex.ErrorCode ?? "409"); // attached elsewhere meanwhile, or the VM busy: look again
                    continue;
                }
                catch (RequestFailedException ex) when (ex.Status == 400 && ex.Message.Contains("lun", StringComparison.OrdinalIgnoreCase))
                {
                    _failedLuns[lun] = true;
                    continue;
                }
                catch (RequestFailedException ex) when (ex.Status == 400)
                {
                    throw new VolumeException($"Azure refused to attach disk {diskName} to VM {self.Name} at LUN {lun}: {ex.ErrorCode}: {FirstLine(ex.Message)}", ex);
                }

                LogAttaching(name, diskName, lun);
                if (!await TryCompleteAsync("Microsoft.Compute/virtualMachines/write", operation, _settings.AttachTimeout, cancellationToken,
                    hint: () => _devices.Appeared(lun)))
                {
                    _failedLuns[lun] = true;
                    LogAttachStuck(name, diskName, lun, _settings.AttachTimeout.TotalSeconds);
                    throw new VolumeException(
                        $"Azure did not finish attaching volume \"{name}\" (disk {diskName}) to VM {self.Name} at LUN {lun} within {_settings.AttachTimeout.TotalSeconds:0} s; " +
                        $"repeat the call: it waits for that attach, and a new one avoids LUN {lun} ({AzureDiskSettings.AttachTimeoutVariable} sets the wait)");
                }

                return (disk, lun);
            }
            finally
            {
                _ = _vmUpdates.Release();
            }
        }

        throw new VolumeException($"could not attach volume \"{name}\" (disk {diskName}) to VM {self.Name} after {AttachAttempts} attempts; repeat the call");
    }

    /// <summary>Detaches the disk from <paramref name="vmId"/> (toBeDetached: an omitted disk is not reliably detached) and waits until it is free.</summary>
    private async Task DetachAsync(string name, ManagedDiskResource disk, ResourceIdentifier vmId, CancellationToken cancellationToken)
    {
        await _vmUpdates.WaitAsync(cancellationToken);
        try
        {
            var vm = await GetVmAsync(vmId.ToString(), cancellationToken);
            // ARM refuses another update (409) while one runs, e.g. the attach of a plugin killed mid-Mount: wait for it.
            vm = await WaitVmSettledAsync(vm, cancellationToken) ?? vm;

            var entry = vm.Data.StorageProfile?.DataDisks.FirstOrDefault(d => SameDisk(d, disk));
            if (entry is not null && entry.ToBeDetached != true)
            {
                var patch = new VirtualMachinePatch { StorageProfile = new VirtualMachineStorageProfile() };
                foreach (var existing in vm.Data.StorageProfile!.DataDisks)
                {
                    patch.StorageProfile.DataDisks.Add(existing);
                }

                entry.ToBeDetached = true;
                var operation = await ArmAsync("Microsoft.Compute/virtualMachines/write", t => vm.UpdateAsync(WaitUntil.Started, patch, t), cancellationToken);
                LogDetaching(name, disk.Data.Name, vmId.Name);
                await CompleteAsync("Microsoft.Compute/virtualMachines/write", operation, _settings.AttachTimeout, cancellationToken,
                    hint: SameVm(vmId, await _metadata.GetAsync(cancellationToken)) ? () => !_devices.Appeared(entry.Lun) : null);
            }
        }
        finally
        {
            _ = _vmUpdates.Release();
        }

        // The disk is free once ARM no longer names a VM for it.
        var deadline = _time.GetUtcNow() + _settings.AttachTimeout;
        var wait = OperationPoll();
        while (await GetDiskAsync(disk.Data.Name, cancellationToken) is { Data.ManagedBy: { } still } && string.Equals(still.ToString(), vmId.ToString(), StringComparison.OrdinalIgnoreCase))
        {
            if (_time.GetUtcNow() >= deadline)
            {
                throw new VolumeException(
                    $"disk {disk.Data.Name} of volume \"{name}\" is still attached to VM {vmId.Name} {_settings.AttachTimeout.TotalSeconds:0} s after its detach; repeat the call to keep waiting");
            }

            await wait.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The VM once no update of it is running (at most the attach timeout), or null if it stays busy.</summary>
    /// <param name="vm">The VM as just read.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    private async Task<VirtualMachineResource?> WaitVmSettledAsync(VirtualMachineResource vm, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + _settings.AttachTimeout;
        var wait = OperationPoll();
        while (vm.Data.ProvisioningState is "Updating" or "Creating")
        {
            if (_time.GetUtcNow() >= deadline)
            {
                return null;
            }

            await wait.WaitAsync(cancellationToken);
            vm = await GetVmAsync(vm.Id.ToString(), cancellationToken);
        }

        return vm;
    }

    private async Task<VirtualMachineResource> GetVmAsync(string vmId, CancellationToken cancellationToken)
    {
        var (arm, _, _) = await ClientAsync(cancellationToken);
        var vm = arm.GetVirtualMachineResource(new ResourceIdentifier(vmId));
        return (await ArmAsync("Microsoft.Compute/virtualMachines/read", t => vm.GetAsync(cancellationToken: t), cancellationToken)).Value;
    }

    /// <summary>"running", "stopped", "deallocated", … from the VM's instance view; "deleted" when the VM is gone.</summary>
    private async Task<string> PowerStateAsync(ResourceIdentifier vmId, CancellationToken cancellationToken)
    {
        var (arm, _, _) = await ClientAsync(cancellationToken);
        var vm = arm.GetVirtualMachineResource(vmId);
        try
        {
            var view = (await ArmAsync("Microsoft.Compute/virtualMachines/instanceView/read", t => vm.InstanceViewAsync(t), cancellationToken, status => status == 404)).Value;
            return view.Statuses.Select(s => s.Code).FirstOrDefault(c => c?.StartsWith("PowerState/", StringComparison.Ordinal) == true)?["PowerState/".Length..] ?? "in an unknown power state";
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return "deallocated"; // the VM was deleted; its disks are detached with it, or soon will be
        }
    }

    private int FreeLun(VirtualMachineData vm, string vmName)
    {
        var used = (vm.StorageProfile?.DataDisks ?? []).Select(d => d.Lun).ToHashSet();
        var free = Enumerable.Range(0, MaxLun + 1).Where(l => !used.Contains(l)).ToList();
        return free.Cast<int?>().FirstOrDefault(l => !_failedLuns.ContainsKey(l!.Value)) ?? free.Cast<int?>().FirstOrDefault()
            ?? throw new VolumeException($"VM {vmName} has no free LUN left (0-{MaxLun} in use)");
    }

    private async Task MarkFormattedAsync(ManagedDiskResource disk, string fsType, CancellationToken cancellationToken)
    {
        var patch = new ManagedDiskPatch();
        foreach (var (key, value) in disk.Data.Tags)
        {
            patch.Tags[key] = value; // a PATCH's tags replace the disk's: send them all
        }

        patch.Tags[AzureDiskTags.Formatted] = fsType;
        var operation = await ArmAsync("Microsoft.Compute/disks/write", t => disk.UpdateAsync(WaitUntil.Started, patch, t), cancellationToken);
        _ = await CompleteAsync("Microsoft.Compute/disks/write", operation, CreateBound, cancellationToken);
    }

    private static bool SameDisk(VirtualMachineDataDisk entry, ManagedDiskResource disk) =>
        string.Equals(entry.ManagedDisk?.Id?.ToString(), disk.Id.ToString(), StringComparison.OrdinalIgnoreCase);
}
