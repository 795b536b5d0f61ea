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
}

/// <summary>Every problem at once, each naming its variable; run when the settings are first read, before the socket opens.</summary>
[OptionsValidator]
internal sealed partial class CsvolSettingsValidator : IValidateOptions<CsvolSettings>;
