using System.Text;

namespace Csvol.Backends.Disks;

/// <summary>A cloud's limits on the tags of a disk, and the keys csvol keeps for itself there.</summary>
/// <param name="Cloud">The cloud's name in messages ("EC2", "Azure").</param>
/// <param name="MaxTags">Tags per resource.</param>
/// <param name="MaxKey">Characters per key.</param>
/// <param name="MaxValue">Characters per value.</param>
/// <param name="OwnPrefix">The prefix of csvol's own keys (reserved).</param>
/// <param name="ReservedKeys">Other keys csvol writes (reserved).</param>
/// <param name="CloudPrefixes">Key prefixes the cloud reserves (case-insensitive).</param>
/// <param name="ForbiddenKeyCharacters">Characters the cloud refuses in keys.</param>
internal sealed record TagRules(
    string Cloud, int MaxTags, int MaxKey, int MaxValue, string OwnPrefix, string[] ReservedKeys, string[] CloudPrefixes, string ForbiddenKeyCharacters);

/// <summary>
/// Tags of cloud disks: the user's <c>Key=Value,Key2=Value2</c> lists checked against the cloud's <see cref="TagRules"/>,
/// and the normalised options written into tags (split over as many values as they need) and read back.
/// </summary>
internal static class DiskTags
{
    /// <summary>Tags as <c>Key=Value,Key2=Value2</c>, in order; the text was validated by <see cref="Normalize"/> or the settings.</summary>
    public static List<KeyValuePair<string, string>> Parse(string text)
    {
        var tags = new List<KeyValuePair<string, string>>();
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            tags.Add(equals < 0 ? new(pair, "") : new(pair[..equals].Trim(), pair[(equals + 1)..].Trim()));
        }

        return tags;
    }

    /// <summary>Null when every tag is one a user may set, otherwise what is wrong (to follow "must be … with").</summary>
    public static string? Check(IReadOnlyList<KeyValuePair<string, string>> tags, TagRules rules)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            if (key.Length is 0 || key.Length > rules.MaxKey)
            {
                return $"tag keys of 1-{rules.MaxKey} characters (\"{Shorten(key)}\" has {key.Length})";
            }

            if (value.Length > rules.MaxValue)
            {
                return $"tag values of at most {rules.MaxValue} characters (the value of \"{key}\" has {value.Length})";
            }

            if (key.IndexOfAny(rules.ForbiddenKeyCharacters.ToCharArray()) >= 0)
            {
                return $"tag keys without any of {rules.ForbiddenKeyCharacters} ({rules.Cloud} refuses them): \"{key}\"";
            }

            if (rules.CloudPrefixes.FirstOrDefault(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase)) is { } prefix)
            {
                return $"tag keys that do not start with \"{prefix}\" (reserved by {rules.Cloud}): \"{key}\"";
            }

            if (key.StartsWith(rules.OwnPrefix, StringComparison.Ordinal) || rules.ReservedKeys.Contains(key))
            {
                return $"tag keys other than {string.Join(", ", rules.ReservedKeys.Select(k => "\"" + k + "\""))} and \"{rules.OwnPrefix}*\" (csvol's own): \"{key}\"";
            }

            if (!seen.Add(key))
            {
                return $"each tag key once (\"{key}\" is repeated)";
            }
        }

        return null;
    }

    /// <summary>The <c>tags</c> option: checked, then sorted by key.</summary>
    public static OptionValue Normalize(string raw, TagRules rules)
    {
        var tags = Parse(raw);
        if (tags.Count == 0 || tags.Any(t => t.Key.Contains('=', StringComparison.Ordinal) || t.Value.Contains(',', StringComparison.Ordinal)))
        {
            return OptionValue.Invalid("Key=Value pairs separated by commas");
        }

        return Check(tags, rules) is { } problem
            ? OptionValue.Invalid(problem)
            : OptionValue.Valid(string.Join(',', tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key + "=" + t.Value)));
    }

    /// <summary>Reads <c>Key=Value,…</c> from a plugin setting, or stops start-up naming the setting and the rule broken.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> FromSetting(string variable, string? text, TagRules rules)
    {
        if (text is null)
        {
            return [];
        }

        var tags = Parse(text);
        return Check(tags, rules) is { } problem
            ? throw new InvalidOperationException($"{variable} must be Key=Value,Key2=Value2 with {problem}")
            : tags;
    }

    /// <summary>The user's tags and the plugin-wide ones, a user's tag winning over a plugin-wide one of the same key.</summary>
    public static IEnumerable<KeyValuePair<string, string>> UserAndExtra(IReadOnlyDictionary<string, string> options, string tagsOption, IReadOnlyList<KeyValuePair<string, string>> extra)
    {
        var user = options.TryGetValue(tagsOption, out var text) ? Parse(text) : [];
        return extra.Where(e => !user.Any(u => u.Key == e.Key)).Concat(user);
    }

    /// <summary>
    /// Null when every tag a new disk would carry fits <paramref name="rules"/>' limit: the user's (option
    /// <paramref name="tagsOption"/>), <paramref name="fixedTags"/> of csvol's own and the plugin's, and the options'
    /// chunks. Otherwise what is wrong, naming the <paramref name="resource"/> and who sets the limit.
    /// </summary>
    public static string? CheckCount(
        IReadOnlyDictionary<string, string> options, string tagsOption, int fixedTags, TagRules rules, string resource, string limiter)
    {
        var userTags = options.TryGetValue(tagsOption, out var tags) ? Parse(tags).Count : 0;
        var total = userTags + fixedTags + ToTagValues(options, rules.MaxValue).Count;
        return total > rules.MaxTags
            ? $"the {resource} would carry {total} tags ({userTags} from option \"{tagsOption}\", the rest csvol's own and CSVOL_EXTRA_TAGS); {limiter} allows at most {rules.MaxTags}"
            : null;
    }

    /// <summary>The key of the options' chunk <paramref name="index"/>: <paramref name="key"/>, then key.2, key.3, ….</summary>
    public static string ChunkKey(string key, int index) =>
        index == 0 ? key : key + "." + (index + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The options as one text (keys sorted, values escaped), split over as many tag values as it takes.</summary>
    public static IReadOnlyList<string> ToTagValues(IReadOnlyDictionary<string, string> options, int maxValue)
    {
        var text = Encode(options);
        var chunks = new List<string>();
        for (var start = 0; start < text.Length; start += maxValue)
        {
            chunks.Add(text.Substring(start, Math.Min(maxValue, text.Length - start)));
        }

        return chunks;
    }

    /// <summary>The options read back from the tag values <paramref name="valueOf"/>(0), (1), … until one is missing; null if none or unreadable.</summary>
    public static SortedDictionary<string, string>? FromTagValues(Func<int, string?> valueOf)
    {
        var text = new StringBuilder();
        for (var i = 0; valueOf(i) is { } chunk; i++)
        {
            _ = text.Append(chunk);
        }

        return text.Length == 0 ? null : Decode(text.ToString());
    }

    public static string Encode(IReadOnlyDictionary<string, string> options)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in options.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            _ = text.Append(text.Length == 0 ? "" : "&").Append(key).Append('=').Append(Uri.EscapeDataString(value));
        }

        return text.ToString();
    }

    /// <summary>The options written by <see cref="Encode"/>; null when the text is not that form.</summary>
    public static SortedDictionary<string, string>? Decode(string text)
    {
        var options = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return null;
            }

            options[pair[..equals]] = Uri.UnescapeDataString(pair[(equals + 1)..]);
        }

        return options;
    }

    /// <summary>The options that differ between two sets, as "key=a, not key=b".</summary>
    public static string Difference(IReadOnlyDictionary<string, string> existing, IReadOnlyDictionary<string, string> wanted)
    {
        var keys = existing.Keys.Union(wanted.Keys).Order(StringComparer.Ordinal);
        return string.Join("; ", keys
            .Where(k => existing.GetValueOrDefault(k) != wanted.GetValueOrDefault(k))
            .Select(k => $"{k}={existing.GetValueOrDefault(k) ?? "(unset)"}, not {k}={wanted.GetValueOrDefault(k) ?? "(unset)"}"));
    }

    /// <summary>True when two option sets are the same.</summary>
    public static bool Same(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(o => b.TryGetValue(o.Key, out var v) && v == o.Value);

    private static string Shorten(string text) => text.Length > 40 ? text[..40] + "…" : text;
}
