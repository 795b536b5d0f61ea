namespace Csvol.FakeCloud.Ec2;

/// <summary>How a <see cref="FakeEc2Server"/> behaves; every delay can also be changed while it runs.</summary>
public sealed record FakeEc2Options
{
    /// <summary>Where attached volumes' sparse files live. Null: attach makes no block device.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Stands in for <c>/dev</c> (by-id and xvdX symlinks) and holds a fake <c>sys/</c> with each device's serial.</summary>
    public string? DeviceRoot { get; init; }

    /// <summary>Delete <see cref="DataDirectory"/>'s volume files on dispose (loop devices are always released).</summary>
    public bool DeleteDataOnDispose { get; init; }

    public string Region { get; init; } = "us-east-1";

    public TimeSpan CreateDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan AttachDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan DetachDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    internal bool MakesBlockDevices => DataDirectory is not null && DeviceRoot is not null;
}
