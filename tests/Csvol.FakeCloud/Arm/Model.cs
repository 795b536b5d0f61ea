namespace Csvol.FakeCloud.Arm;

/// <summary>Mutable state of one managed disk; only touched under the cloud's lock.</summary>
internal sealed class ArmDisk
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public required string ResourceGroup { get; init; }

    public required string Location { get; init; }

    /// <summary>Names the disk's data file; ARM's <c>uniqueId</c>.</summary>
    public required string UniqueId { get; init; }

    public required DateTimeOffset TimeCreated { get; init; }

    public required string CreateOption { get; init; }

    public string? SourceResourceId { get; init; }

    public required string Sku { get; set; }

    public int SizeGiB { get; set; }

    public long? Iops { get; set; }

    public long? MBps { get; set; }

    public IReadOnlyList<string> Zones { get; init; } = [];

    public string EncryptionType { get; init; } = "EncryptionAtRestWithPlatformKey";

    public string? DiskEncryptionSetId { get; init; }

    public Dictionary<string, string> Tags { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The VM id while attached or being attached/detached.</summary>
    public string? ManagedBy { get; set; }

    public string ProvisioningState { get; set; } = "Updating";
}

internal sealed class ArmSnapshot
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public required string ResourceGroup { get; init; }

    public required string Location { get; init; }

    public required string UniqueId { get; init; }

    public required DateTimeOffset TimeCreated { get; init; }

    public required string SourceResourceId { get; init; }

    public required string SourceUniqueId { get; init; }

    public required int SizeGiB { get; init; }

    public bool Incremental { get; init; }

    public Dictionary<string, string> Tags { get; set; } = new(StringComparer.Ordinal);

    public string ProvisioningState { get; set; } = "Updating";
}

internal sealed class ArmVm
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public required string ResourceGroup { get; init; }

    public required string Location { get; init; }

    public string? Zone { get; init; }

    public required string VmId { get; init; }

    /// <summary>This VM's <c>/dev</c> and <c>/sys</c> stand-in; null without block devices.</summary>
    public string? DeviceRoot { get; init; }

    public FakeVmPowerState PowerState { get; set; } = FakeVmPowerState.Running;

    public string ProvisioningState { get; set; } = "Succeeded";

    public List<ArmDataDisk> DataDisks { get; } = [];

    /// <summary>The update in flight, if any; ARM refuses another meanwhile.</summary>
    public ArmOperation? Updating { get; set; }
}

internal sealed class ArmDataDisk
{
    public required int Lun { get; init; }

    public required ArmDisk Disk { get; init; }

    public string Caching { get; init; } = "None";

    public bool ToBeDetached { get; set; }

    /// <summary>The loop device while the guest sees the disk (attached and the VM running).</summary>
    public string? LoopDevice { get; set; }

    /// <summary>A device is due after <see cref="FakeArmOptions.DeviceDelay"/>.</summary>
    public bool DevicePending { get; set; }
}

/// <summary>One long-running operation as the monitor URL reports it.</summary>
internal sealed class ArmOperation
{
    public required string Id { get; init; }

    public required DateTimeOffset StartTime { get; init; }

    /// <summary>InProgress, Succeeded, Failed or Canceled.</summary>
    public string Status { get; set; } = "InProgress";

    public DateTimeOffset? EndTime { get; set; }

    public ArmError? Error { get; set; }

    /// <summary>How many more monitor polls answer InProgress even once the work is done.</summary>
    public int InProgressPollsLeft { get; set; }

    public bool Done => Status != "InProgress";
}
