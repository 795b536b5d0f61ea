using System.Globalization;
using System.Text.Json.Nodes;

namespace Csvol.FakeCloud.Arm;

/// <summary>Resources as ARM writes them (api-version 2023-04-02 for disks and snapshots, 2023-07-01 for VMs).</summary>
internal static class ArmJson
{
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static JsonObject Error(ArmError error) => new()
    {
        ["error"] = new JsonObject { ["code"] = error.Code, ["message"] = error.Message },
    };

    public static JsonObject Disk(ArmDisk disk, string diskState)
    {
        var properties = new JsonObject
        {
            ["creationData"] = Creation(disk.CreateOption, disk.SourceResourceId),
            ["diskSizeGB"] = disk.SizeGiB,
            ["diskSizeBytes"] = (long)disk.SizeGiB << 30,
            ["uniqueId"] = disk.UniqueId,
            ["encryption"] = Encryption(disk.EncryptionType, disk.DiskEncryptionSetId),
            ["networkAccessPolicy"] = "AllowAll",
            ["publicNetworkAccess"] = "Enabled",
            ["timeCreated"] = Time(disk.TimeCreated),
            ["provisioningState"] = disk.ProvisioningState,
            ["diskState"] = diskState,
        };
        if (disk.Iops is { } iops)
        {
            properties["diskIOPSReadWrite"] = iops;
        }

        if (disk.MBps is { } mbps)
        {
            properties["diskMBpsReadWrite"] = mbps;
        }

        var json = Resource(disk.Id, disk.Name, "Microsoft.Compute/disks", disk.Location, disk.Tags);
        json["sku"] = Sku(disk.Sku);
        if (disk.Zones.Count > 0)
        {
            json["zones"] = new JsonArray([.. disk.Zones.Select(z => JsonValue.Create(z))]);
        }

        if (disk.ManagedBy is not null)
        {
            json["managedBy"] = disk.ManagedBy;
        }

        json["properties"] = properties;
        return json;
    }

    public static JsonObject Snapshot(ArmSnapshot snapshot)
    {
        var json = Resource(snapshot.Id, snapshot.Name, "Microsoft.Compute/snapshots", snapshot.Location, snapshot.Tags);
        json["sku"] = new JsonObject { ["name"] = "Standard_LRS", ["tier"] = "Standard" };
        json["properties"] = new JsonObject
        {
            ["creationData"] = Creation("Copy", snapshot.SourceResourceId, snapshot.SourceUniqueId),
            ["diskSizeGB"] = snapshot.SizeGiB,
            ["diskSizeBytes"] = (long)snapshot.SizeGiB << 30,
            ["incremental"] = snapshot.Incremental,
            ["uniqueId"] = snapshot.UniqueId,
            ["encryption"] = Encryption("EncryptionAtRestWithPlatformKey", null),
            ["timeCreated"] = Time(snapshot.TimeCreated),
            ["provisioningState"] = snapshot.ProvisioningState,
            ["diskState"] = "Unattached",
        };
        return json;
    }

    public static JsonObject VirtualMachine(ArmVm vm, string provisioningState, bool withInstanceView, DateTimeOffset now)
    {
        var dataDisks = new JsonArray();
        foreach (var dataDisk in vm.DataDisks.OrderBy(d => d.Lun))
        {
            dataDisks.Add(new JsonObject
            {
                ["lun"] = dataDisk.Lun,
                ["name"] = dataDisk.Disk.Name,
                ["createOption"] = "Attach",
                ["caching"] = dataDisk.Caching,
                ["writeAcceleratorEnabled"] = false,
                ["managedDisk"] = new JsonObject { ["id"] = dataDisk.Disk.Id, ["storageAccountType"] = dataDisk.Disk.Sku },
                ["diskSizeGB"] = dataDisk.Disk.SizeGiB,
                ["toBeDetached"] = dataDisk.ToBeDetached,
            });
        }

        var properties = new JsonObject
        {
            ["vmId"] = vm.VmId,
            ["hardwareProfile"] = new JsonObject { ["vmSize"] = "Standard_D2s_v5" },
            ["storageProfile"] = new JsonObject
            {
                ["osDisk"] = new JsonObject
                {
                    ["osType"] = "Linux",
                    ["name"] = vm.Name + "_OsDisk_1",
                    ["createOption"] = "FromImage",
                    ["caching"] = "ReadWrite",
                    ["managedDisk"] = new JsonObject { ["storageAccountType"] = "Premium_LRS" },
                    ["deleteOption"] = "Delete",
                    ["diskSizeGB"] = 30,
                },
                ["dataDisks"] = dataDisks,
            },
            ["provisioningState"] = provisioningState,
        };
        if (withInstanceView)
        {
            properties["instanceView"] = InstanceView(vm, now);
        }

        var json = Resource(vm.Id, vm.Name, "Microsoft.Compute/virtualMachines", vm.Location, tags: null);
        if (vm.Zone is not null)
        {
            json["zones"] = new JsonArray(vm.Zone);
        }

        json["properties"] = properties;
        return json;
    }

    public static JsonObject InstanceView(ArmVm vm, DateTimeOffset now)
    {
        var (code, display) = vm.PowerState switch
        {
            FakeVmPowerState.Running => ("running", "VM running"),
            FakeVmPowerState.Stopped => ("stopped", "VM stopped"),
            _ => ("deallocated", "VM deallocated"),
        };
        return new JsonObject
        {
            ["computerName"] = vm.Name,
            ["osName"] = "ubuntu",
            ["statuses"] = new JsonArray(
                new JsonObject
                {
                    ["code"] = "ProvisioningState/" + vm.ProvisioningState.ToLowerInvariant(),
                    ["level"] = "Info",
                    ["displayStatus"] = "Provisioning " + vm.ProvisioningState.ToLowerInvariant(),
                    ["time"] = Time(now),
                },
                new JsonObject { ["code"] = "PowerState/" + code, ["level"] = "Info", ["displayStatus"] = display }),
        };
    }

    /// <summary>An entry of <c>/resourceGroups/RG/resources</c>: the generic envelope, no <c>properties</c>.</summary>
    public static JsonObject Generic(JsonObject full)
    {
        var json = new JsonObject();
        foreach (var name in new[] { "id", "name", "type", "sku", "location", "tags", "zones", "managedBy" })
        {
            if (full[name] is { } value)
            {
                json[name] = value.DeepClone();
            }
        }

        return json;
    }

    public static JsonObject Operation(ArmOperation operation)
    {
        var json = new JsonObject { ["name"] = operation.Id, ["startTime"] = Time(operation.StartTime) };
        var reported = operation.Done && operation.InProgressPollsLeft <= 0 ? operation.Status : "InProgress";
        json["status"] = reported;
        if (reported != "InProgress" && operation.EndTime is { } end)
        {
            json["endTime"] = Time(end);
        }

        if (reported == "Failed" && operation.Error is { } error)
        {
            json["error"] = new JsonObject { ["code"] = error.Code, ["message"] = error.Message };
        }

        return json;
    }

    private static JsonObject Resource(string id, string name, string type, string location, Dictionary<string, string>? tags)
    {
        var json = new JsonObject { ["id"] = id, ["name"] = name, ["type"] = type, ["location"] = location };
        if (tags is not null)
        {
            var tagJson = new JsonObject();
            foreach (var (key, value) in tags)
            {
                tagJson[key] = value;
            }

            json["tags"] = tagJson;
        }

        return json;
    }

    private static JsonObject Sku(string name) => new()
    {
        ["name"] = name,
        ["tier"] = name switch
        {
            _ when name.StartsWith("Premium", StringComparison.Ordinal) => "Premium",
            "UltraSSD_LRS" => "Ultra",
            _ => "Standard",
        },
    };

    private static JsonObject Creation(string createOption, string? source, string? sourceUniqueId = null)
    {
        var json = new JsonObject { ["createOption"] = createOption };
        if (source is not null)
        {
            json["sourceResourceId"] = source;
        }

        if (sourceUniqueId is not null)
        {
            json["sourceUniqueId"] = sourceUniqueId;
        }

        return json;
    }

    private static JsonObject Encryption(string type, string? diskEncryptionSetId)
    {
        var json = new JsonObject { ["type"] = type };
        if (diskEncryptionSetId is not null)
        {
            json["diskEncryptionSetId"] = diskEncryptionSetId;
        }

        return json;
    }
}
