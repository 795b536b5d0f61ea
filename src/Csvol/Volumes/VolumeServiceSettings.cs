namespace Csvol.Volumes;

/// <summary>What <see cref="VolumeService"/> takes from csvol's settings.</summary>
/// <param name="MountRoot">Volume <c>name</c> is mounted at <c>MountRoot/name</c>; a real path (no symlinks).</param>
/// <param name="CallDeadline">How long a state-changing call may take before its caller gets an Err (the work goes on).</param>
/// <param name="DiscoveryInterval">How often a global backend's volume list is read again.</param>
/// <param name="RepairInterval">How often mounts that could not be released or restored are tried again.</param>
internal sealed record VolumeServiceSettings(
    string MountRoot,
    TimeSpan CallDeadline,
    TimeSpan DiscoveryInterval,
    TimeSpan RepairInterval)
{
    /// <summary>Below dockerd's 30 s client timeout, so that the Err reaches Docker before it hangs up.</summary>
    public static readonly TimeSpan DefaultCallDeadline = TimeSpan.FromSeconds(25);

    public static readonly TimeSpan DefaultDiscoveryInterval = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan DefaultRepairInterval = TimeSpan.FromSeconds(30);

    /// <summary>How long Get and List wait, once, for a global backend's first volume list before answering without it.</summary>
    public TimeSpan FirstDiscoveryWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many volumes are restored (checked, mounted again) at once after a start.</summary>
    public int RestoreConcurrency { get; init; } = 4;

    public static VolumeServiceSettings WithDefaults(string mountRoot) =>
        new(mountRoot, DefaultCallDeadline, DefaultDiscoveryInterval, DefaultRepairInterval);
}
