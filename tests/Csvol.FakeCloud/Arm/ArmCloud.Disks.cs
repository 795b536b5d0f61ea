using System.Text.Json.Nodes;

namespace Csvol.FakeCloud.Arm;

internal sealed partial class ArmCloud
{
    private static readonly HashSet<string> Skus = new(StringComparer.Ordinal)
    {
        "Standard_LRS", "StandardSSD_LRS", "Premium_LRS", "PremiumV2_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS",
    };

    /// <summary>Only these SKUs take <c>diskIOPSReadWrite</c>/<c>diskMBpsReadWrite</c> and only <c>None</c> caching.</summary>
    private static bool HasProvisionedPerformance(string sku) => sku is "UltraSSD_LRS" or "PremiumV2_LRS";

    private async Task<ArmAnswer> DisksAsync(ArmRequest request)
    {
        if (request.Name is null)
        {
            return request.Method == "GET"
                ? ListDisks(request)
                : throw new ArmError(405, "MethodNotAllowed", $"{request.Method} on a disk collection");
        }

        var id = ResourceId(request.ResourceGroup!, "disks", request.Name);
        return request.Method switch
        {
            "GET" => GetDisk(request, id),
            "PUT" => await PutDiskAsync(request, id),
            "PATCH" => await PatchDiskAsync(request, id),
            "DELETE" => await DeleteDiskAsync(request, id),
            _ => throw new ArmError(405, "MethodNotAllowed", $"{request.Method} on a disk"),
        };
    }

    private ArmAnswer GetDisk(ArmRequest request, string id)
    {
        lock (_gate)
        {
            return new ArmAnswer(200, ArmJson.Disk(Disk(request, id), DiskState(Disk(request, id))));
        }
    }

    private ArmDisk Disk(ArmRequest request, string id) =>
        _disks.TryGetValue(id, out var disk) ? disk : throw ArmError.NotFound("Microsoft.Compute/disks", request.Name!, request.ResourceGroup!);

    private ArmAnswer ListDisks(ArmRequest request)
    {
        lock (_gate)
        {
            RequireResourceGroup(request.ResourceGroup!);
            return Page(request, [.. _disks.Values
                .Where(d => d.ResourceGroup.Equals(request.ResourceGroup, StringComparison.OrdinalIgnoreCase))
                .OrderBy(d => d.TimeCreated)
                .Select(d => ArmJson.Disk(d, DiskState(d)))]);
        }
    }

    private async Task<ArmAnswer> PutDiskAsync(ArmRequest request, string id)
    {
        var body = request.Body as JsonObject ?? throw new ArmError(400, "InvalidRequestContent", "The request content was empty.");
        ArmDisk disk;
        string? copyFrom = null;
        lock (_gate)
        {
            RequireResourceGroup(request.ResourceGroup!);
            if (_disks.TryGetValue(id, out var existing))
            {
                Update(existing, body, replaceTags: true);
                disk = existing;
            }
            else
            {
                (disk, copyFrom) = NewDisk(request, id, body);
                _disks[id] = disk;
            }

            disk.ProvisioningState = "Updating";
        }

        var operation = await StartOperationAsync(
            async cancellationToken =>
            {
                if (_files is not null && copyFrom is not null)
                {
                    await _deviceLock.WaitAsync(CancellationToken.None);
                    try
                    {
                        _files.EnsureFile(disk.UniqueId, disk.SizeGiB, copyFrom: _files.DataFile(copyFrom));
                    }
                    finally
                    {
                        _ = _deviceLock.Release();
                    }
                }

                lock (_gate)
                {
                    disk.ProvisioningState = "Succeeded";
                }
            },
            _ =>
            {
                lock (_gate)
                {
                    disk.ProvisioningState = "Failed";
                }
            });
        lock (_gate)
        {
            // 201 would make the SDK throw (cloud-apis.md): disks answer 200 or 202.
            return Accepted(request, operation, 202, ArmJson.Disk(disk, DiskState(disk)), withLocation: false);
        }
    }

    /// <returns>The disk, and the unique id of the snapshot or disk whose data it starts from.</returns>
    private (ArmDisk Disk, string? CopyFrom) NewDisk(ArmRequest request, string id, JsonObject body)
    {
        var location = body["location"]?.GetValue<string>() ?? throw new ArmError(400, "LocationRequired", "The location property is required for this definition.");
        var properties = body["properties"] as JsonObject ?? [];
        var creation = properties["creationData"] as JsonObject ?? throw ArmError.Invalid("Required parameter 'creationData' is missing (null).");
        var createOption = creation["createOption"]?.GetValue<string>() ?? throw ArmError.Invalid("Required parameter 'createOption' is missing (null).");
        var sku = body["sku"]?["name"]?.GetValue<string>() ?? "Standard_LRS";
        if (!Skus.Contains(sku))
        {
            throw ArmError.Invalid($"The value '{sku}' of parameter 'sku.name' is not allowed. Allowed values are {string.Join(", ", Skus)}.");
        }

        var size = properties["diskSizeGB"]?.GetValue<int>();
        string? source = null;
        string? copyFrom = null;
        switch (createOption)
        {
            case "Empty":
                if (size is not (>= 1 and <= 65536))
                {
                    throw ArmError.Invalid("Disk size must be specified and between 1 and 65536 GB for an Empty disk.");
                }

                break;
            case "Copy" or "Restore":
                source = creation["sourceResourceId"]?.GetValue<string>() ?? throw ArmError.Invalid("Required parameter 'sourceResourceId' is missing (null).");
                var (sourceSize, sourceUnique) = _snapshots.TryGetValue(source, out var snapshot) ? (snapshot.SizeGiB, snapshot.UniqueId)
                    : _disks.TryGetValue(source, out var sourceDisk) ? (sourceDisk.SizeGiB, sourceDisk.UniqueId)
                    : throw new ArmError(404, "NotFound", $"Resource {source} is not found.");
                if (size < sourceSize)
                {
                    throw ArmError.Invalid($"Disk size {size} GB is smaller than the size of the source {sourceSize} GB.");
                }

                size ??= sourceSize;
                copyFrom = sourceUnique;
                break;
            default:
                throw ArmError.Invalid($"The fake ARM creates disks with createOption Empty, Copy or Restore, not '{createOption}'.");
        }

        var zones = body["zones"] is JsonArray z ? z.Select(n => n!.GetValue<string>()).ToList() : [];
        if (zones.Count > 1 || (zones.Count > 0 && sku.EndsWith("_ZRS", StringComparison.Ordinal)))
        {
            throw ArmError.Invalid($"A {sku} disk takes {(sku.EndsWith("_ZRS", StringComparison.Ordinal) ? "no zone" : "at most one zone")}.");
        }

        var encryptionSet = properties["encryption"]?["diskEncryptionSetId"]?.GetValue<string>();
        var disk = new ArmDisk
        {
            Id = id,
            Name = request.Name!,
            ResourceGroup = request.ResourceGroup!,
            Location = location,
            UniqueId = Guid.NewGuid().ToString(),
            TimeCreated = _time.GetUtcNow(),
            CreateOption = createOption,
            SourceResourceId = source,
            Sku = sku,
            SizeGiB = size!.Value,
            Zones = zones,
            DiskEncryptionSetId = encryptionSet,
            EncryptionType = properties["encryption"]?["type"]?.GetValue<string>()
                ?? (encryptionSet is null ? "EncryptionAtRestWithPlatformKey" : "EncryptionAtRestWithCustomerKey"),
        };
        Update(disk, body, replaceTags: true);
        return (disk, copyFrom);
    }

    /// <summary>Applies what a PUT or PATCH may change on a disk: tags, SKU, a larger size, IOPS and MB/s.</summary>
    private void Update(ArmDisk disk, JsonObject body, bool replaceTags)
    {
        var properties = body["properties"] as JsonObject ?? [];
        var sku = body["sku"]?["name"]?.GetValue<string>() ?? disk.Sku;
        if (!Skus.Contains(sku))
        {
            throw ArmError.Invalid($"The value '{sku}' of parameter 'sku.name' is not allowed.");
        }

        var iops = properties["diskIOPSReadWrite"]?.GetValue<long>();
        var mbps = properties["diskMBpsReadWrite"]?.GetValue<long>();
        if ((iops is not null || mbps is not null) && !HasProvisionedPerformance(sku))
        {
            throw ArmError.Invalid($"diskIOPSReadWrite and diskMBpsReadWrite can be set only for UltraSSD_LRS and PremiumV2_LRS disks, not {sku}.");
        }

        var size = properties["diskSizeGB"]?.GetValue<int>();
        if (size < disk.SizeGiB)
        {
            throw new ArmError(400, "BadRequest", $"Disk size {size} GB is smaller than the current size {disk.SizeGiB} GB; disks cannot shrink.");
        }

        if (disk.ManagedBy is not null && (size > disk.SizeGiB || sku != disk.Sku) && DiskState(disk) != "Reserved")
        {
            throw ArmError.Conflict("OperationNotAllowed", "Disk resizing or changing the SKU is allowed only when the disk is unattached or its VM is deallocated.");
        }

        disk.Sku = sku;
        disk.SizeGiB = size ?? disk.SizeGiB;
        disk.Iops = iops ?? disk.Iops ?? (HasProvisionedPerformance(sku) ? 3000 : null);
        disk.MBps = mbps ?? disk.MBps ?? (HasProvisionedPerformance(sku) ? 125 : null);
        if (body["tags"] is JsonObject tags)
        {
            disk.Tags = tags.ToDictionary(t => t.Key, t => t.Value?.GetValue<string>() ?? "", StringComparer.Ordinal);
        }
        else if (replaceTags && body.ContainsKey("tags"))
        {
            disk.Tags = new(StringComparer.Ordinal);
        }
    }

    private async Task<ArmAnswer> PatchDiskAsync(ArmRequest request, string id)
    {
        var body = request.Body as JsonObject ?? throw new ArmError(400, "InvalidRequestContent", "The request content was empty.");
        ArmDisk disk;
        lock (_gate)
        {
            disk = Disk(request, id);
            Update(disk, body, replaceTags: false);
        }

        var operation = await StartOperationAsync(_ => Task.CompletedTask);
        lock (_gate)
        {
            return Accepted(request, operation, 202, ArmJson.Disk(disk, DiskState(disk)), withLocation: false);
        }
    }

    private async Task<ArmAnswer> DeleteDiskAsync(ArmRequest request, string id)
    {
        ArmDisk disk;
        lock (_gate)
        {
            if (!_disks.TryGetValue(id, out disk!))
            {
                return new ArmAnswer(204, null);
            }

            if (disk.ManagedBy is { } vm)
            {
                throw ArmError.Conflict("OperationNotAllowed", $"Disk {disk.Name} is attached to VM {vm}.");
            }
        }

        var operation = await StartOperationAsync(async cancellationToken =>
        {
            lock (_gate)
            {
                if (disk.ManagedBy is { } vm)
                {
                    throw ArmError.Conflict("OperationNotAllowed", $"Disk {disk.Name} is attached to VM {vm}.");
                }

                _ = _disks.Remove(id);
            }

            if (_files is not null)
            {
                await _deviceLock.WaitAsync(CancellationToken.None);
                try
                {
                    _files.DeleteFile(disk.UniqueId);
                }
                finally
                {
                    _ = _deviceLock.Release();
                }
            }
        });
        lock (_gate)
        {
            return Accepted(request, operation, 202, body: null, withLocation: true);
        }
    }
}
