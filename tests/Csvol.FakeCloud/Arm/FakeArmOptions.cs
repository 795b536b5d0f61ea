namespace Csvol.FakeCloud.Arm;

/// <summary>How a <see cref="FakeArmServer"/> behaves; the operation settings can also be changed while it runs.</summary>
public sealed record FakeArmOptions
{
    public string SubscriptionId { get; init; } = "00000000-0000-4000-8000-00000000c5f0";

    public string Location { get; init; } = "westeurope";

    /// <summary>Where disks' sparse files live. Null: attaching makes no block device.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>
    /// Stands in for each VM's <c>/dev</c> and <c>/sys</c>: a VM added without its own device root gets
    /// <c>{DeviceRoot}/{vm name}</c>, so two VMs' <c>lun0</c> never collide.
    /// </summary>
    public string? DeviceRoot { get; init; }

    /// <summary>Delete <see cref="DataDirectory"/>'s disk files on dispose (loop devices are always released).</summary>
    public bool DeleteDataOnDispose { get; init; }

    /// <summary>How many times the operation monitor answers <c>InProgress</c> before the outcome; each costs the SDK about 1 s.</summary>
    public int InProgressPolls { get; init; }

    /// <summary>Sent as <c>Retry-After</c> with every answer that starts or continues an operation; null: none.</summary>
    public TimeSpan? PollRetryAfter { get; init; }

    /// <summary>How long an operation runs before its change (and its block devices) happen; zero: before the first answer.</summary>
    public TimeSpan OperationDelay { get; init; }

    /// <summary>
    /// How long after an attach completes (and after a VM starts) its disks' devices appear; zero: before
    /// the operation reports success. On Azure the guest's udev can lag the API, so a backend waits and rescans.
    /// </summary>
    public TimeSpan DeviceDelay { get; init; }

    /// <summary>Items per page of a list; the rest follow through <c>nextLink</c>.</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>The SCSI host of the data-disk controller in the fake sysfs (<c>H:0:0:LUN</c>).</summary>
    public int ScsiHost { get; init; } = 1;

    internal bool MakesBlockDevices => DataDirectory is not null && DeviceRoot is not null;
}
