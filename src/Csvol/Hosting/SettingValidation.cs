using System.ComponentModel.DataAnnotations;
using System.Text;
using Serilog.Events;

namespace Csvol.Hosting;

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
                $"{CsvolSettings.LogLevelVariable}=\"{value}\" is not a log level; valid: verbose, debug, information, warning, error, fatal");
}

/// <summary>A whole number of seconds from <c>min</c> to <c>max</c>.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SecondsAttribute(string variable, int min, int max) : ValidationAttribute
{
    public static TimeSpan? Parse(string? text) =>
        int.TryParse(text?.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : null;

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        Parse(value as string) is { } span && span.TotalSeconds >= min && span.TotalSeconds <= max
            ? ValidationResult.Success
            : new ValidationResult(Problem(variable, value, min, max));

    /// <summary>What is wrong with <paramref name="value"/> of <paramref name="variable"/>, the one wording of every seconds setting.</summary>
    public static string Problem(string variable, object? value, int min, int max) =>
        $"{variable}=\"{value}\" must be a whole number of seconds from {min} to {max}";
}
