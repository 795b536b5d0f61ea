namespace Csvol.Backends;

/// <summary>
/// Reading a cloud backend's settings: each bad value stops start-up with a message naming the variable and
/// saying what a good value looks like.
/// </summary>
internal static class SettingText
{
    /// <summary>The trimmed value, or null when unset or empty.</summary>
    public static string? Value(IConfiguration configuration, string key) =>
        configuration[key] is { Length: > 0 } v && v.Trim() is { Length: > 0 } trimmed ? trimmed : null;

    public static Uri? Url(string variable, string? text, params string[] schemes) =>
        text is null ? null
        : Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var url) && (schemes.Length == 0 ? url.Scheme is "http" or "https" : schemes.Contains(url.Scheme))
            ? url
            : throw new InvalidOperationException(
                $"{variable} must be an {string.Join(" or ", (schemes.Length == 0 ? ["http", "https"] : schemes).Select(s => s + "://"))} URL, not \"{text}\"");

    public static string? AbsolutePath(string variable, string? text) =>
        text is null ? null
        : Path.IsPathFullyQualified(text) ? text.TrimEnd('/') is { Length: > 0 } trimmed ? trimmed : "/"
        : throw new InvalidOperationException($"{variable} must be an absolute path, not \"{text}\"");

    public static TimeSpan? Seconds(string variable, string? text, int min, int max) =>
        text is null ? null
        : Hosting.SecondsAttribute.Parse(text) is { } seconds && seconds.TotalSeconds >= min && seconds.TotalSeconds <= max
            ? seconds
            : throw new InvalidOperationException(Hosting.SecondsAttribute.Problem(variable, text, min, max));

    /// <summary>The cluster name: a tag value that keeps one cluster's volumes apart from another's in the same account.</summary>
    public static string Cluster(string variable, string? text, int maxLength)
    {
        var cluster = text ?? "default";
        return cluster.Length <= maxLength && cluster.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? cluster
            : throw new InvalidOperationException($"{variable} must be 1-{maxLength} letters, digits, '-', '_' or '.', not \"{cluster}\"");
    }
}
