using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Csvol.Backends.Nfs;

/// <summary>The <c>-o</c> options of an NFS volume: their specs, and where they put the volume.</summary>
internal static partial class NfsOptions
{
    public const string Server = "server";
    public const string Share = "share";
    public const string Subdir = "subdir";
    public const string MountOptions = "o";
    public const string Uid = "uid";
    public const string Gid = "gid";
    public const string Mode = "mode";

    /// <summary>The specs, with the plugin's default server and share filled in where settings give them.</summary>
    public static IReadOnlyList<VolumeOptionSpec> Specs(NfsSettings settings) =>
    [
        new(Server, "NFS server: host name (resolved at each mount), IPv4 address or [IPv6] address (default: CSVOL_NFS_SERVER)",
            raw => NormalizeServer(raw) is { } server ? OptionValue.Valid(server) : OptionValue.Invalid("a host name, an IPv4 address or an [IPv6] address"),
            settings.Server),
        new(Share, "exported path on the server, e.g. /exports/team (default: CSVOL_NFS_SHARE)",
            raw => NormalizeShare(raw) is { } share ? OptionValue.Valid(share) : OptionValue.Invalid("an absolute path such as /exports/team, without '..', commas or control characters"),
            settings.Share),
        new(Subdir, "directory under the share that holds the volume (default: the volume name); one that exists is adopted, never emptied",
            raw => NormalizeSubdir(raw) is { } subdir ? OptionValue.Valid(subdir) : OptionValue.Invalid("a relative path of names made of letters, digits, '.', '_' and '-', none starting with '.'")),
        new(MountOptions, "NFS mount options from an allowlist, comma-separated (added to CSVOL_NFS_OPTIONS; hard unless soft is given)",
            NfsMountOptions.Normalize),
        VolumeOptionSpec.Id(Uid, "owner of a subdirectory csvol creates"),
        VolumeOptionSpec.Id(Gid, "group of a subdirectory csvol creates"),
        VolumeOptionSpec.OctalMode(Mode, "permissions of a subdirectory csvol creates (default 0755)"),
    ];

    public static string? CheckCombination(IReadOnlyDictionary<string, string> options) =>
        !options.ContainsKey(Server) ? $"option \"{Server}\" is needed: this plugin has no CSVOL_NFS_SERVER"
        : !options.ContainsKey(Share) ? $"option \"{Share}\" is needed: this plugin has no CSVOL_NFS_SHARE"
        : null;

    /// <summary>Where a volume lives, read back from its normalised options.</summary>
    public static NfsLocation LocationOf(string volume, IReadOnlyDictionary<string, string> options) =>
        new(new NfsExport(options[Server], options[Share]), options.GetValueOrDefault(Subdir) ?? volume);

    public static string? NormalizeServer(string raw)
    {
        var text = raw.Trim().ToLowerInvariant();
        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            return IPAddress.TryParse(text[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? text : null;
        }

        if (IPAddress.TryParse(text, out var address))
        {
            return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Count(c => c == '.') == 3 ? text : null;
        }

        return text.Length is > 0 and <= 253 && HostName().IsMatch(text) ? text.TrimEnd('.') : null;
    }

    public static string? NormalizeShare(string raw)
    {
        var text = raw.Trim();
        if (!text.StartsWith('/') || text.Any(c => char.IsControl(c) || c == ','))
        {
            return null;
        }

        var parts = text.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Any(p => p is "." or "..") ? null : "/" + string.Join('/', parts);
    }

    public static string? NormalizeSubdir(string raw)
    {
        var parts = raw.Trim().Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > 0 && parts.All(p => p.Length <= 255 && Component().IsMatch(p)) ? string.Join('/', parts) : null;
    }

    public static uint? Number(IReadOnlyDictionary<string, string> options, string key) =>
        options.TryGetValue(key, out var value) ? uint.Parse(value, CultureInfo.InvariantCulture) : null;

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\\.?$")]
    private static partial Regex HostName();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex Component();
}

/// <summary>An export: a server and a path it exports.</summary>
internal sealed record NfsExport(string Server, string Share)
{
    /// <summary>mount.nfs's source for <paramref name="path"/> below the share (the share itself when null).</summary>
    public string Source(string? path = null) => Server + ":" + (path is null ? Share : Share.TrimEnd('/') + "/" + path);

    public override string ToString() => Source();
}

/// <summary>A volume's place: its export and its subdirectory there.</summary>
internal sealed record NfsLocation(NfsExport Export, string Subdir)
{
    public string Source => Export.Source(Subdir);
}
