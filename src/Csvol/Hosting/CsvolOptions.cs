using System.ComponentModel.DataAnnotations;
using System.Text;
using Microsoft.Extensions.Options;
using Serilog.Events;

namespace Csvol.Hosting;

/// <summary>csvol's settings, one environment variable each (<c>docker plugin set csvol/local CSVOL_…=…</c>).</summary>
internal sealed class CsvolOptions
{
    public const string BackendVariable = "CSVOL_BACKEND";
    public const string SocketVariable = "CSVOL_SOCKET";
    public const string StateDirVariable = "CSVOL_STATE_DIR";
    public const string MountRootVariable = "CSVOL_MOUNT_ROOT";
    public const string LogLevelVariable = "CSVOL_LOG_LEVEL";

    [NotBlank(BackendVariable, "must name a storage backend")]
    public string Backend { get; set; } = "local";

    [UnixSocketPath(SocketVariable)]
    public string Socket { get; set; } = "/run/docker/plugins/csvol.sock";

    [AbsolutePath(StateDirVariable)]
    public string StateDir { get; set; } = "/var/lib/csvol";

    [AbsolutePath(MountRootVariable)]
    public string MountRoot { get; set; } = "/mnt/volumes";

    [LogLevelName]
    public string LogLevel { get; set; } = "information";

    public LogEventLevel SerilogLevel => LogLevelNameAttribute.Parse(LogLevel) ?? LogEventLevel.Information;

    /// <summary>Reads every variable that is set; unset ones keep their defaults.</summary>
    public static CsvolOptions FromEnvironment(Func<string, string?> variable)
    {
        var options = new CsvolOptions();
        options.Backend = variable(BackendVariable) ?? options.Backend;
        options.Socket = variable(SocketVariable) ?? options.Socket;
        options.StateDir = variable(StateDirVariable) ?? options.StateDir;
        options.MountRoot = variable(MountRootVariable) ?? options.MountRoot;
        options.LogLevel = variable(LogLevelVariable) ?? options.LogLevel;
        return options;
    }

    /// <summary>Throws with every problem, each naming its variable, when a setting is unusable.</summary>
    public CsvolOptions Validated()
    {
        var result = new CsvolOptionsValidator().Validate(null, this);
        return result.Failed
            ? throw new OptionsValidationException(nameof(CsvolOptions), typeof(CsvolOptions), result.Failures)
            : this;
    }
}

[OptionsValidator]
internal sealed partial class CsvolOptionsValidator : IValidateOptions<CsvolOptions>;

// Results carry no member names, so a failure reads "CSVOL_X …" rather than "Property: CSVOL_X …".
[AttributeUsage(AttributeTargets.Property)]
internal sealed class NotBlankAttribute(string variable, string requirement) : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is string text && !string.IsNullOrWhiteSpace(text)
            ? ValidationResult.Success
            : new ValidationResult($"{variable} {requirement}");
}

[AttributeUsage(AttributeTargets.Property)]
internal class AbsolutePathAttribute(string variable) : ValidationAttribute
{
    protected string Variable { get; } = variable;

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is string path && path.Length > 1 && Path.IsPathFullyQualified(path) && !path.Contains('\0', StringComparison.Ordinal)
            ? ValidationResult.Success
            : new ValidationResult($"{Variable}=\"{value}\" must be an absolute path other than /");
}

[AttributeUsage(AttributeTargets.Property)]
internal sealed class UnixSocketPathAttribute(string variable) : AbsolutePathAttribute(variable)
{
    /// <summary>sun_path holds 108 bytes including the terminating NUL.</summary>
    public const int MaxBytes = 107;

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        var result = base.IsValid(value, validationContext);
        if (result != ValidationResult.Success)
        {
            return result;
        }

        var bytes = Encoding.UTF8.GetByteCount((string)value!);
        return bytes <= MaxBytes
            ? ValidationResult.Success
            : new ValidationResult($"{Variable} is {bytes} bytes long; a Unix socket path can be at most {MaxBytes}");
    }
}

[AttributeUsage(AttributeTargets.Property)]
internal sealed class LogLevelNameAttribute : ValidationAttribute
{
    public static LogEventLevel? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "verbose" or "trace" => LogEventLevel.Verbose,
        "debug" => LogEventLevel.Debug,
        "information" or "info" => LogEventLevel.Information,
        "warning" or "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        "fatal" or "critical" => LogEventLevel.Fatal,
        _ => null,
    };

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        Parse(value as string) is not null
            ? ValidationResult.Success
            : new ValidationResult(
                $"{CsvolOptions.LogLevelVariable}=\"{value}\" is not a log level; valid: verbose, debug, information, warning, error, fatal");
}
