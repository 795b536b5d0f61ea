using System.Globalization;
using Csvol.Linux;

namespace Csvol.Backends.Local;

/// <summary>A local volume's options, read back from their normalised form.</summary>
internal readonly struct LocalOptions(IReadOnlyDictionary<string, string> options)
{
    public const string Type = "type";
    public const string Uid = "uid";
    public const string Gid = "gid";
    public const string Mode = "mode";
    public const string Size = "size";
    public const string NoExec = "noexec";
    public const string NoSuid = "nosuid";
    public const string NoDev = "nodev";
    public const string Dir = "dir";
    public const string Tmpfs = "tmpfs";

    public bool IsTmpfs => options.TryGetValue(Type, out var type) && type == Tmpfs;

    public uint? Owner => Number(Uid);

    public uint? Group => Number(Gid);

    public UnixFileMode? Permissions => options.TryGetValue(Mode, out var mode) ? (UnixFileMode)Convert.ToInt32(mode, 8) : null;

    public long? SizeBytes => options.TryGetValue(Size, out var size) ? long.Parse(size, CultureInfo.InvariantCulture) : null;

    public MountFlags Flags =>
        (IsOn(NoExec) ? MountFlags.NoExec : MountFlags.None) |
        (IsOn(NoSuid) ? MountFlags.NoSuid : MountFlags.None) |
        (IsOn(NoDev) ? MountFlags.NoDev : MountFlags.None);

    /// <summary>The data argument of mount(2) for tmpfs.</summary>
    public string TmpfsData()
    {
        var parts = new List<string>(4);
        if (SizeBytes is { } size)
        {
            parts.Add(FormattableString.Invariant($"size={size}"));
        }

        if (options.TryGetValue(Mode, out var mode))
        {
            parts.Add("mode=" + mode);
        }

        if (Owner is { } uid)
        {
            parts.Add(FormattableString.Invariant($"uid={uid}"));
        }

        if (Group is { } gid)
        {
            parts.Add(FormattableString.Invariant($"gid={gid}"));
        }

        return string.Join(',', parts);
    }

    private bool IsOn(string flag) => options.TryGetValue(flag, out var value) && value == "true";

    private uint? Number(string key) =>
        options.TryGetValue(key, out var value) ? uint.Parse(value, CultureInfo.InvariantCulture) : null;
}
