using System.Buffers;

namespace Csvol.Volumes;

/// <summary>Docker's volume name rule, <c>[a-zA-Z0-9][a-zA-Z0-9_.-]+</c>, with a length cap.</summary>
/// <remarks>
/// The rule admits no '/', no NUL and cannot start with '.', so a valid name is always a single,
/// ordinary directory entry: it can be joined to a directory without escaping it.
/// </remarks>
internal static class VolumeName
{
    public const int MaxLength = 128;

    private static readonly SearchValues<char> Alphanumerics =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    private static readonly SearchValues<char> Allowed =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

    private const string Rule =
        "a volume name is 2 to 128 characters from [a-zA-Z0-9_.-] and starts with a letter or digit";

    /// <summary>Returns null when <paramref name="name"/> is valid, otherwise the reason it is not.</summary>
    public static string? Check(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return $"volume name is missing: {Rule}";
        }

        if (name.Length < 2 || name.Length > MaxLength)
        {
            return $"invalid volume name \"{Printable(name)}\" ({name.Length} characters): {Rule}";
        }

        if (!Alphanumerics.Contains(name[0]) || name.AsSpan().IndexOfAnyExcept(Allowed) >= 0)
        {
            return $"invalid volume name \"{Printable(name)}\": {Rule}";
        }

        return null;
    }

    public static string Validate(string? name) =>
        Check(name) is { } error ? throw new VolumeException(error) : name!;

    /// <summary>
    /// <paramref name="text"/> fit for an error message or a log line: control characters become '?', and more than
    /// <paramref name="maxLength"/> characters are cut with an ellipsis.
    /// </summary>
    public static string Printable(string text, int maxLength = MaxLength)
    {
        var shown = text.Length > maxLength ? text[..maxLength] + "…" : text;
        if (shown.AsSpan().IndexOfAnyInRange('\u0000', '\u001f') < 0 && shown.AsSpan().IndexOfAnyInRange('\u007f', '\u009f') < 0)
        {
            return shown; // the common case, without a copy
        }

        return string.Create(shown.Length, shown, static (span, s) =>
        {
            for (var i = 0; i < s.Length; i++)
            {
                span[i] = char.IsControl(s[i]) ? '?' : s[i];
            }
        });
    }
}
