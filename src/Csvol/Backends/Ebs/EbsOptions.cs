using System.Globalization;
using Csvol.Backends.Disks;

namespace Csvol.Backends.Ebs;

/// <summary>The <c>-o</c> options of an EBS volume: their specs, the rules across them, and their form in a tag.</summary>
internal static class EbsOptions
{
    public const string Size = "size";
    public const string Type = "type";
    public const string Iops = "iops";
    public const string Throughput = "throughput";
    public const string Encrypted = "encrypted";
    public const string KmsKeyId = "kmsKeyId";
    public const string SnapshotId = "snapshotId";
    public const string FsType = DiskOptions.FsType;
    public const string AvailabilityZone = "availabilityZone";
    public const string Tags = "tags";
    public const string Uid = DiskOptions.Uid;
    public const string Gid = DiskOptions.Gid;
    public const string Mode = DiskOptions.Mode;

    public const string Ext4 = DiskOptions.Ext4;
    public const string Xfs = DiskOptions.Xfs;

    /// <summary>EC2's limit of tags per resource.</summary>
    public const int MaxTags = 50;
    public const int MaxTagKey = 128;
    public const int MaxTagValue = 256;

    /// <summary>EC2's limits on tags, and the keys csvol writes.</summary>
    public static readonly TagRules TagRules = new("AWS", MaxTags, MaxTagKey, MaxTagValue, EbsTags.Prefix, [EbsTags.NameTag], ["aws:"], "");

    private static readonly string[] Types = ["gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"];

    /// <summary>GiB each type allows (io2 Block Express's 64 TiB is not offered).</summary>
    private static readonly Dictionary<string, (int Min, int Max)> SizeRange = new(StringComparer.Ordinal)
    {
        ["gp3"] = (1, 16384),
        ["gp2"] = (1, 16384),
        ["io1"] = (4, 16384),
        ["io2"] = (4, 16384),
        ["st1"] = (125, 16384),
        ["sc1"] = (125, 16384),
        ["standard"] = (1, 1024),
    };

    private static readonly Dictionary<string, (int Min, int Max)> IopsRange = new(StringComparer.Ordinal)
    {
        ["gp3"] = (3000, 16000),
        ["io1"] = (100, 64000),
        ["io2"] = (100, 64000),
    };

    public static IReadOnlyList<VolumeOptionSpec> Specs { get; } =
    [
        DiskOptions.SizeGiB(Size, "size in GiB (gp2/gp3 1-16384, io1/io2 4-16384, st1/sc1 125-16384, standard 1-1024); needed unless snapshotId is given"),
        VolumeOptionSpec.Choice(Type, "EBS volume type", "gp3", Types),
        DiskOptions.Count(Iops, "provisioned IOPS: gp3 3000-16000, io1/io2 100-64000 (needed for io1/io2)"),
        DiskOptions.Count(Throughput, "gp3 only: MiB/s, 125-1000"),
        VolumeOptionSpec.Flag(Encrypted, "encrypt the volume (default true)") with { Default = "true" },
        new(KmsKeyId, "KMS key (id, alias or ARN) for an encrypted volume; default: the account's EBS key",
            raw => raw.Trim() is { Length: > 0 and <= 2048 } key && !key.Any(char.IsWhiteSpace)
                ? OptionValue.Valid(key)
                : OptionValue.Invalid("a KMS key id, alias or ARN without spaces")),
        new(SnapshotId, "start from this snapshot (snap-...)",
            raw => raw.Trim().ToLowerInvariant() is var id && id.StartsWith("snap-", StringComparison.Ordinal) && id.Length > 5 && id[5..].All(char.IsAsciiHexDigitLower)
                ? OptionValue.Valid(id)
                : OptionValue.Invalid("a snapshot id such as snap-0123456789abcdef0")),
        new(AvailabilityZone, "availability zone (default: the instance's)",
            raw => raw.Trim().ToLowerInvariant() is { Length: >= 4 and <= 32 } zone && zone.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
                && char.IsAsciiDigit(zone[^2]) && char.IsAsciiLetterLower(zone[^1])
                ? OptionValue.Valid(zone)
                : OptionValue.Invalid("an availability zone such as us-east-1a")),
        new(Tags, "tags for the volume: Key=Value,Key2=Value2", raw => DiskTags.Normalize(raw, TagRules)),
        .. DiskOptions.Specs,
    ];

    /// <summary>Rules across options; <paramref name="fixedTags"/> is how many tags csvol and the plugin settings add.</summary>
    public static string? CheckCombination(IReadOnlyDictionary<string, string> options, int fixedTags)
    {
        var type = options[Type];
        if (options.TryGetValue(Size, out var sizeText))
        {
            var size = int.Parse(sizeText, CultureInfo.InvariantCulture);
            var (min, max) = SizeRange[type];
            if (size < min || size > max)
            {
                return $"size={size} GiB is outside what type={type} allows: {min}-{max} GiB";
            }
        }
        else if (!options.ContainsKey(SnapshotId))
        {
            return $"option \"{Size}\" (GiB) is needed unless \"{SnapshotId}\" is given";
        }

        if (options.TryGetValue(Iops, out var iopsText))
        {
            if (!IopsRange.TryGetValue(type, out var range))
            {
                return $"option \"{Iops}\" applies only to type=gp3, io1 or io2, not type={type}";
            }

            var iops = int.Parse(iopsText, CultureInfo.InvariantCulture);
            if (iops < range.Min || iops > range.Max)
            {
                return $"iops={iops} is outside what type={type} allows: {range.Min}-{range.Max}";
            }
        }
        else if (type is "io1" or "io2")
        {
            return $"type={type} needs option \"{Iops}\" (100-64000)";
        }

        if (options.TryGetValue(Throughput, out var throughputText))
        {
            if (type != "gp3")
            {
                return $"option \"{Throughput}\" applies only to type=gp3, not type={type}";
            }

            var throughput = int.Parse(throughputText, CultureInfo.InvariantCulture);
            if (throughput is < 125 or > 1000)
            {
                return $"throughput={throughput} MiB/s is outside what gp3 allows: 125-1000";
            }
        }

        if (options.ContainsKey(KmsKeyId) && options[Encrypted] != "true")
        {
            return $"option \"{KmsKeyId}\" needs encrypted=true";
        }

        return DiskTags.CheckCount(options, Tags, fixedTags, TagRules, "volume", "EC2");
    }

    /// <summary>The options as one text, split over as many tag values as it takes.</summary>
    public static IReadOnlyList<string> ToTagValues(IReadOnlyDictionary<string, string> options) => DiskTags.ToTagValues(options, MaxTagValue);
}
