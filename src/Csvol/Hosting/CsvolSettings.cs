using Microsoft.Extensions.Options;
using Serilog.Events;

namespace Csvol.Hosting;

/// <summary>
/// csvol's settings, one environment variable each (<c>docker plugin set csvol/local CSVOL_…=…</c>). "Options" in
/// csvol are the <c>-o</c> options of a volume; this is the process's configuration.
/// </summary>
internal sealed class CsvolSettings
{
    public const string BackendVariable = "CSVOL_BACKEND";
    public const string SocketVariable = "CSVOL_SOCKET";
    public const string StateDirVariable = "CSVOL_STATE_DIR";
    public const string MountRootVariable = "CSVOL_MOUNT_ROOT";
    public const string LogLevelVariable = "CSVOL_LOG_LEVEL";
    public const string CallDeadlineVariable = "CSVOL_CALL_DEADLINE";
    public const string DiscoveryIntervalVariable = "CSVOL_DISCOVERY_INTERVAL";
    public const string RepairIntervalVariable = "CSVOL_REPAIR_INTERVAL";

    [ConfigurationKeyName(BackendVariable)]
    [NotBlank(BackendVariable, "must name a storage backend")]
    public string Backend { get; set; } = "local";

    [ConfigurationKeyName(SocketVariable)]
    [UnixSocketPath(SocketVariable)]
    public string Socket { get; set; } = "/run/docker/plugins/csvol.sock";

    /// <summary>As configured; <see cref="CsvolDirectories"/> holds the real path every other part uses.</summary>
    [ConfigurationKeyName(StateDirVariable)]
    [AbsolutePath(StateDirVariable)]
    public string StateDir { get; set; } = "/var/lib/csvol";

    /// <summary>As configured; <see cref="CsvolDirectories"/> holds the real path every other part uses.</summary>
    [ConfigurationKeyName(MountRootVariable)]
    [AbsolutePath(MountRootVariable)]
    public string MountRoot { get; set; } = "/mnt/volumes";

    [ConfigurationKeyName(LogLevelVariable)]
    [LogLevelName]
    public string LogLevel { get; set; } = "information";

    public LogEventLevel SerilogLevel => LogLevelNameAttribute.Parse(LogLevel) ?? LogEventLevel.Information;

    /// <summary>
    /// Seconds a state-changing call may take before its caller gets an Err saying the work goes on; below dockerd's
    /// 30 s plugin timeout (raise both together: <c>docker plugin enable --timeout</c>).
    /// </summary>
    [ConfigurationKeyName(CallDeadlineVariable)]
    [Seconds(CallDeadlineVariable, 1, 600)]
    public string CallDeadline { get; set; } = "25";

    /// <summary>Seconds between readings of a global backend's volume list.</summary>
    [ConfigurationKeyName(DiscoveryIntervalVariable)]
    [Seconds(DiscoveryIntervalVariable, 1, 86400)]
    public string DiscoveryInterval { get; set; } = "30";

    /// <summary>Seconds between retries of mounts that could not be released or restored.</summary>
    [ConfigurationKeyName(RepairIntervalVariable)]
    [Seconds(RepairIntervalVariable, 1, 86400)]
    public string RepairInterval { get; set; } = "30";

    /// <summary>What the volume service takes from these settings, with <paramref name="mountRoot"/> already resolved.</summary>
    public Volumes.VolumeServiceSettings ForVolumes(string mountRoot) => new(
        mountRoot,
        SecondsAttribute.Parse(CallDeadline)!.Value,
        SecondsAttribute.Parse(DiscoveryInterval)!.Value,
        SecondsAttribute.Parse(RepairInterval)!.Value);
}

/// <summary>Every problem at once, each naming its variable; run when the settings are first read, before the socket opens.</summary>
[OptionsValidator]
internal sealed partial class CsvolSettingsValidator : IValidateOptions<CsvolSettings>;
