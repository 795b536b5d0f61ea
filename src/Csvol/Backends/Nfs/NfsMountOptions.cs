using System.Collections.Frozen;
using System.Globalization;
using System.Net;

namespace Csvol.Backends.Nfs;

/// <summary>
/// NFS mount options (<c>-o o=…</c> and <c>CSVOL_NFS_OPTIONS</c>) from an allowlist: each is a known switch or a known
/// key with a value its rule accepts. Anything else, a value holding a comma or a second <c>=</c>, white space or a
/// control character is refused, so no option can reach mount.nfs that csvol did not mean to pass (<c>addr=</c>,
/// <c>context=</c>, a second source).
/// </summary>
internal static class NfsMountOptions
{
    /// <summary>Switches, by the group of which only one may hold (the later one wins when sets are merged).</summary>
    private static readonly FrozenDictionary<string, string> Switches = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["hard"] = "hard", ["soft"] = "hard",
        ["ro"] = "ro", ["rw"] = "ro",
        ["lock"] = "lock", ["nolock"] = "lock",
        ["ac"] = "ac", ["noac"] = "ac",
        ["cto"] = "cto", ["nocto"] = "cto",
        ["sync"] = "sync", ["async"] = "sync",
        ["atime"] = "atime", ["noatime"] = "atime", ["relatime"] = "atime", ["strictatime"] = "atime",
        ["diratime"] = "diratime", ["nodiratime"] = "diratime",
        ["tcp"] = "proto", ["udp"] = "proto",
        ["resvport"] = "resvport", ["noresvport"] = "resvport",
        ["sharecache"] = "sharecache", ["nosharecache"] = "sharecache",
        ["rdirplus"] = "rdirplus", ["nordirplus"] = "rdirplus",
        ["acl"] = "acl", ["noacl"] = "acl",
        ["suid"] = "suid", ["nosuid"] = "suid",
        ["dev"] = "dev", ["nodev"] = "dev",
        ["exec"] = "exec", ["noexec"] = "exec",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Keys with a value, each with its rule and what a valid value looks like.</summary>
    private static readonly FrozenDictionary<string, (Func<string, bool> IsValid, string Expected)> Keyed =
        new Dictionary<string, (Func<string, bool>, string)>(StringComparer.Ordinal)
        {
            ["vers"] = (v => v is "3" or "4" or "4.0" or "4.1" or "4.2", "3, 4, 4.0, 4.1 or 4.2"),
            ["minorversion"] = (v => v is "0" or "1" or "2", "0, 1 or 2"),
            ["proto"] = (v => v is "tcp" or "udp" or "tcp6" or "udp6" or "rdma", "tcp, udp, tcp6, udp6 or rdma"),
            ["mountproto"] = (v => v is "tcp" or "udp" or "tcp6" or "udp6", "tcp, udp, tcp6 or udp6"),
            ["port"] = (v => Number(v, 0, 65535), "a port from 0 to 65535"),
            ["mountport"] = (v => Number(v, 0, 65535), "a port from 0 to 65535"),
            ["mountvers"] = (v => v is "1" or "2" or "3", "1, 2 or 3"),
            ["rsize"] = (v => Number(v, 1024, 1 << 24), "bytes from 1024 to 16777216"),
            ["wsize"] = (v => Number(v, 1024, 1 << 24), "bytes from 1024 to 16777216"),
            ["timeo"] = (v => Number(v, 1, 6000), "tenths of a second from 1 to 6000"),
            ["retrans"] = (v => Number(v, 0, 100), "a count from 0 to 100"),
            ["retry"] = (v => Number(v, 0, 10000), "minutes from 0 to 10000"),
            ["actimeo"] = (v => Number(v, 0, 86400), "seconds from 0 to 86400"),
            ["acregmin"] = (v => Number(v, 0, 86400), "seconds from 0 to 86400"),
            ["acregmax"] = (v => Number(v, 0, 86400), "seconds from 0 to 86400"),
            ["acdirmin"] = (v => Number(v, 0, 86400), "seconds from 0 to 86400"),
            ["acdirmax"] = (v => Number(v, 0, 86400), "seconds from 0 to 86400"),
            ["nconnect"] = (v => Number(v, 1, 16), "a count from 1 to 16"),
            ["sec"] = (v => v.Split(':').All(s => s is "sys" or "krb5" or "krb5i" or "krb5p" or "none"), "sys, krb5, krb5i, krb5p or none (several joined with :)"),
            ["lookupcache"] = (v => v is "all" or "none" or "pos" or "positive", "all, none, pos or positive"),
            ["local_lock"] = (v => v is "all" or "flock" or "posix" or "none", "all, flock, posix or none"),
            ["clientaddr"] = (v => IPAddress.TryParse(v, out _), "an IP address of this host"),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Spellings of one option: <c>nfsvers</c> is <c>vers</c>.</summary>
    private static readonly FrozenDictionary<string, string> Aliases =
        new Dictionary<string, string>(StringComparer.Ordinal) { ["nfsvers"] = "vers" }.ToFrozenDictionary(StringComparer.Ordinal);

    public static IEnumerable<string> Allowed => Switches.Keys.Concat(Keyed.Keys).Concat(Aliases.Keys).Order(StringComparer.Ordinal);

    /// <summary>
    /// Parses a comma-separated option list into (group, option) pairs in order: <c>nfsvers=4.1</c> becomes
    /// ("vers", "vers=4.1"), <c>soft</c> becomes ("hard", "soft").
    /// </summary>
    /// <returns>The options, or null and in <paramref name="problem"/> what is wrong with which one.</returns>
    public static List<KeyValuePair<string, string>>? Parse(string text, out string? problem)
    {
        problem = null;
        var result = new List<KeyValuePair<string, string>>();
        if (text.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            problem = "options without spaces, newlines or control characters";
            return null;
        }

        foreach (var item in text.Split(','))
        {
            if (item.Length == 0)
            {
                problem = "options separated by single commas, with none empty";
                return null;
            }

            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                if (Switches.TryGetValue(item, out var group))
                {
                    result.Add(new(group, item));
                    continue;
                }

                problem = Keyed.ContainsKey(item) || Aliases.ContainsKey(item)
                    ? $"a value for \"{item}\" (as {item}=VALUE)"
                    : Unknown(item);
                return null;
            }

            var key = item[..equals];
            var value = item[(equals + 1)..];
            key = Aliases.GetValueOrDefault(key, key);
            if (equals == 0 || value.Contains('=', StringComparison.Ordinal))
            {
                problem = $"KEY=VALUE with one '=' (\"{item}\" is not)";
                return null;
            }

            if (!Keyed.TryGetValue(key, out var rule))
            {
                problem = Switches.ContainsKey(key) ? $"\"{key}\" without a value" : Unknown(key);
                return null;
            }

            if (!rule.IsValid(value))
            {
                problem = $"{key}= {rule.Expected} (not \"{value}\")";
                return null;
            }

            result.Add(new(key, key + "=" + value));
        }

        return result;
    }

    /// <summary>The <c>o</c> option's spec: canonical form is the list as given, aliases spelled the one way.</summary>
    public static OptionValue Normalize(string raw)
    {
        var parsed = Parse(raw.Trim(), out var problem);
        return parsed is null
            ? OptionValue.Invalid(problem!)
            : OptionValue.Valid(string.Join(',', Merge(parsed)));
    }

    /// <summary>
    /// The options mount.nfs gets: csvol's defaults (<c>hard</c>, <c>retry=0</c>), then the plugin-wide ones, then the
    /// volume's; a later option replaces an earlier one of its group (<c>soft</c> replaces <c>hard</c>).
    /// </summary>
    public static IReadOnlyList<string> Effective(string? pluginWide, string? volume, params string[] extra)
    {
        var all = new List<KeyValuePair<string, string>> { new("hard", "hard"), new("retry", "retry=0") };
        foreach (var text in new[] { pluginWide, volume })
        {
            if (!string.IsNullOrEmpty(text))
            {
                all.AddRange(Parse(text, out var problem) ?? throw new InvalidOperationException($"mount options \"{text}\" were not validated: {problem}"));
            }
        }

        foreach (var option in extra)
        {
            all.Add(new(Switches.GetValueOrDefault(option, option), option));
        }

        return Merge(all);
    }

    /// <summary>One option per group, the last one given, in the order the groups first appeared.</summary>
    private static List<string> Merge(List<KeyValuePair<string, string>> options)
    {
        var order = new List<string>();
        var byGroup = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (group, option) in options)
        {
            if (!byGroup.ContainsKey(group))
            {
                order.Add(group);
            }

            byGroup[group] = option;
        }

        return [.. order.Select(g => byGroup[g])];
    }

    private static string Unknown(string key) =>
        $"NFS mount options csvol allows: {string.Join(", ", Allowed)} (\"{key}\" is not one)";

    private static bool Number(string text, long min, long max) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max;
}
