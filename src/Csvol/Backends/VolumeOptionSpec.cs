using System.Globalization;

namespace Csvol.Backends;

/// <summary>
/// One option a backend accepts with <c>docker volume create -o name=value</c>. <see cref="Normalize"/>
/// turns a raw value into its canonical form (so that "750" and "0750" are the same request) or says,
/// in words a person can act on, what a valid value looks like.
/// </summary>
internal sealed record VolumeOptionSpec(
    string Name,
    string Description,
    Func<string, OptionValue> Normalize,
    string? Default = null)
{
    /// <summary>
    /// A credential (a password, a key): handed to the backend's Create and never written into a record, a log line
    /// or an Err; not part of the "same options" comparison of a repeated Create.
    /// </summary>
    public bool Secret { get; init; }

    /// <summary>Any text, kept as given, never shown.</summary>
    public static VolumeOptionSpec SecretText(string name, string description) =>
        new(name, description, raw => raw.Length > 0 ? OptionValue.Valid(raw) : OptionValue.Invalid("a non-empty value"))
        {
            Secret = true,
        };

    public static VolumeOptionSpec Choice(string name, string description, string defaultValue, params string[] choices) =>
        new(name, description, raw =>
        {
            var value = raw.Trim().ToLowerInvariant();
            return Array.IndexOf(choices, value) >= 0
                ? OptionValue.Valid(value)
                : OptionValue.Invalid($"one of {string.Join(", ", choices)}");
        }, defaultValue);

    /// <summary>A switch: <c>-o noexec</c> (empty value) and <c>-o noexec=true</c> turn it on.</summary>
    public static VolumeOptionSpec Flag(string name, string description) =>
        new(name, description, raw => raw.Trim().ToLowerInvariant() switch
        {
            "" or "true" or "1" or "yes" or "on" => OptionValue.Valid("true"),
            "false" or "0" or "no" or "off" => OptionValue.Valid("false"),
            _ => OptionValue.Invalid("true or false (or no value, meaning true)"),
        });

    /// <summary>A user or group ID. 4294967295 is (uid_t)-1, which chown reads as "leave unchanged".</summary>
    public static VolumeOptionSpec Id(string name, string description) =>
        new(name, description, raw =>
            uint.TryParse(raw.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id != uint.MaxValue
                ? OptionValue.Valid(id.ToString(CultureInfo.InvariantCulture))
                : OptionValue.Invalid("a numeric ID from 0 to 4294967294"));

    /// <summary>Permission bits in octal, canonicalised to four digits.</summary>
    public static VolumeOptionSpec OctalMode(string name, string description) =>
        new(name, description, raw =>
        {
            var text = raw.Trim();
            if (text.Length is >= 1 and <= 5 && text.All(c => c is >= '0' and <= '7'))
            {
                var mode = Convert.ToInt32(text, 8);
                if (mode <= 0x0FFF)
                {
                    return OptionValue.Valid(Convert.ToString(mode, 8).PadLeft(4, '0'));
                }
            }

            return OptionValue.Invalid("octal permission bits from 0000 to 7777, e.g. 0750");
        });

    /// <summary>A size in bytes with an optional k, m, g or t suffix (powers of 1024); canonicalised to bytes.</summary>
    public static VolumeOptionSpec ByteSize(string name, string description) =>
        new(name, description, raw => ParseBytes(raw) is { } bytes and > 0
            ? OptionValue.Valid(bytes.ToString(CultureInfo.InvariantCulture))
            : OptionValue.Invalid("a positive size such as 65536, 512k, 64m or 1g"));

    public static long? ParseBytes(string raw)
    {
        var text = raw.Trim().ToLowerInvariant();
        if (text.EndsWith('b'))
        {
            text = text[..^1];
        }

        var shift = text.Length == 0 ? 0 : text[^1] switch
        {
            'k' => 10,
            'm' => 20,
            'g' => 30,
            't' => 40,
            _ => 0,
        };
        if (shift > 0)
        {
            text = text[..^1];
        }

        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number > (long.MaxValue >> shift))
        {
            return null;
        }

        return number << shift;
    }
}

internal readonly record struct OptionValue(string? Value, string? Expected)
{
    public static OptionValue Valid(string value) => new(value, null);

    public static OptionValue Invalid(string expected) => new(null, expected);
}
