using System.Globalization;

namespace Csvol.Backends.Disks;

/// <summary>The options every cloud-disk backend takes alike: the file system of a new disk and its root's owner and mode.</summary>
internal static class DiskOptions
{
    public const string FsType = "fsType";
    public const string Uid = "uid";
    public const string Gid = "gid";
    public const string Mode = "mode";
    public const string Ext4 = "ext4";
    public const string Xfs = "xfs";

    public static readonly VolumeOptionSpec[] Specs =
    [
        VolumeOptionSpec.Choice(FsType, "file system made on a new volume", Ext4, Ext4, Xfs),
        VolumeOptionSpec.Id(Uid, "owner of the root directory of a newly formatted volume"),
        VolumeOptionSpec.Id(Gid, "group of the root directory of a newly formatted volume"),
        VolumeOptionSpec.OctalMode(Mode, "permissions of the root directory of a newly formatted volume"),
    ];

    /// <summary>A disk size in whole GiB: <c>10</c>, <c>10g</c> or <c>10GiB</c>.</summary>
    public static VolumeOptionSpec SizeGiB(string name, string description) =>
        new(name, description, raw => PositiveInt(raw.Trim().ToLowerInvariant().Replace("gib", "", StringComparison.Ordinal).TrimEnd('g')) is { } gib
            ? OptionValue.Valid(gib.ToString(CultureInfo.InvariantCulture))
            : OptionValue.Invalid("a whole number of GiB such as 10 or 10g"));

    /// <summary>A positive whole number (IOPS, MiB/s).</summary>
    public static VolumeOptionSpec Count(string name, string description) =>
        new(name, description, raw => PositiveInt(raw.Trim()) is { } n
            ? OptionValue.Valid(n.ToString(CultureInfo.InvariantCulture))
            : OptionValue.Invalid("a positive whole number"));

    /// <summary>One of <paramref name="choices"/>, matched without regard to case and written as the cloud spells it.</summary>
    public static VolumeOptionSpec Named(string name, string description, string? defaultValue, params string[] choices) =>
        new(name, description, raw => choices.FirstOrDefault(c => string.Equals(c, raw.Trim(), StringComparison.OrdinalIgnoreCase)) is { } choice
            ? OptionValue.Valid(choice)
            : OptionValue.Invalid($"one of {string.Join(", ", choices)}"), defaultValue);

    public static int? PositiveInt(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;
}
