using System.Globalization;
using Csvol.Backends.Disks;

namespace Csvol.Backends.AzureDisk;

/// <summary>The <c>-o</c> options of an Azure managed disk: their specs, and the rules across them (checked before any call).</summary>
internal static class AzureDiskOptions
{
    public const string Size = "size";
    public const string Sku = "sku";
    public const string DiskIops = "diskIops";
    public const string DiskMBps = "diskMBps";
    public const string CachingMode = "cachingMode";
    public const string Zone = "zone";
    public const string SourceSnapshot = "sourceSnapshot";
    public const string DiskEncryptionSetId = "diskEncryptionSetId";
    public const string Tags = "tags";

    public const string StandardLrs = "Standard_LRS";
    public const string StandardSsdLrs = "StandardSSD_LRS";
    public const string PremiumLrs = "Premium_LRS";
    public const string PremiumV2Lrs = "PremiumV2_LRS";
    public const string UltraSsdLrs = "UltraSSD_LRS";
    public const string PremiumZrs = "Premium_ZRS";
    public const string StandardSsdZrs = "StandardSSD_ZRS";

    /// <summary>Azure's limits on tags per resource, key and value.</summary>
    public const int MaxTags = 50;
    public const int MaxTagKey = 512;
    public const int MaxTagValue = 256;

    /// <summary>Host caching is offered only below 4 TiB.</summary>
    public const int MaxCachedSizeGiB = 4095;

    public static readonly TagRules TagRules =
        new("Azure", MaxTags, MaxTagKey, MaxTagValue, AzureDiskTags.Prefix, [], ["microsoft", "azure", "windows"], "<>%&\\?/");

    private static readonly string[] Skus = [StandardLrs, StandardSsdLrs, PremiumLrs, PremiumV2Lrs, UltraSsdLrs, PremiumZrs, StandardSsdZrs];

    /// <summary>GiB each SKU allows.</summary>
    private static readonly Dictionary<string, (int Min, int Max)> SizeRange = new(StringComparer.Ordinal)
    {
        [StandardLrs] = (1, 32767),
        [StandardSsdLrs] = (1, 32767),
        [PremiumLrs] = (1, 32767),
        [PremiumZrs] = (1, 32767),
        [StandardSsdZrs] = (1, 32767),
        [PremiumV2Lrs] = (1, 65536),
        [UltraSsdLrs] = (4, 65536),
    };

    /// <summary>The SKUs whose IOPS and MB/s are set per disk, and their ranges.</summary>
    private static readonly Dictionary<string, ((int Min, int Max) Iops, (int Min, int Max) MBps)> Performance = new(StringComparer.Ordinal)
    {
        [PremiumV2Lrs] = ((3000, 80000), (125, 1200)),
        [UltraSsdLrs] = ((100, 400000), (1, 10000)),
    };

    public static IReadOnlyList<VolumeOptionSpec> Specs { get; } =
    [
        DiskOptions.SizeGiB(Size, "size in GiB (Standard/Premium 1-32767, PremiumV2 1-65536, Ultra 4-65536); needed unless sourceSnapshot is given"),
        DiskOptions.Named(Sku, "disk SKU", StandardSsdLrs, Skus),
        DiskOptions.Count(DiskIops, "provisioned IOPS: PremiumV2_LRS 3000-80000, UltraSSD_LRS 100-400000"),
        DiskOptions.Count(DiskMBps, "provisioned MB/s: PremiumV2_LRS 125-1200, UltraSSD_LRS 1-10000"),
        DiskOptions.Named(CachingMode, "host caching of the attached disk (default ReadOnly, None where only None is allowed)", null, "None", "ReadOnly", "ReadWrite"),
        new(Zone, "availability zone 1, 2 or 3 (default: the VM's; none for _ZRS SKUs)",
            raw => raw.Trim() is "1" or "2" or "3" ? OptionValue.Valid(raw.Trim()) : OptionValue.Invalid("1, 2 or 3")),
        new(SourceSnapshot, "snapshot resource id to start from",
            raw => ResourceIdOf(raw, "snapshots") is { } id ? OptionValue.Valid(id)
                : OptionValue.Invalid("/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/snapshots/<name>")),
        new(DiskEncryptionSetId, "disk encryption set resource id (customer-managed key)",
            raw => ResourceIdOf(raw, "diskEncryptionSets") is { } id ? OptionValue.Valid(id)
                : OptionValue.Invalid("/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/diskEncryptionSets/<name>")),
        new(Tags, "tags for the disk: Key=Value,Key2=Value2", raw => DiskTags.Normalize(raw, TagRules)),
        .. DiskOptions.Specs,
    ];

    /// <summary>Rules across options; <paramref name="fixedTags"/> is how many tags csvol and the plugin settings add.</summary>
    public static string? CheckCombination(IReadOnlyDictionary<string, string> options, int fixedTags)
    {
        var sku = options[Sku];
        int? size = options.TryGetValue(Size, out var sizeText) ? int.Parse(sizeText, CultureInfo.InvariantCulture) : null;
        if (size is { } gib)
        {
            var (min, max) = SizeRange[sku];
            if (gib < min || gib > max)
            {
                return $"size={gib} GiB is outside what sku={sku} allows: {min}-{max} GiB";
            }
        }
        else if (!options.ContainsKey(SourceSnapshot))
        {
            return $"option \"{Size}\" (GiB) is needed unless \"{SourceSnapshot}\" is given";
        }

        foreach (var (option, unit) in new[] { (DiskIops, "IOPS"), (DiskMBps, "MB/s") })
        {
            if (!options.TryGetValue(option, out var text))
            {
                continue;
            }

            if (!Performance.TryGetValue(sku, out var ranges))
            {
                return $"option \"{option}\" applies only to sku={PremiumV2Lrs} or {UltraSsdLrs}, not sku={sku}";
            }

            var (min, max) = option == DiskIops ? ranges.Iops : ranges.MBps;
            var value = int.Parse(text, CultureInfo.InvariantCulture);
            if (value < min || value > max)
            {
                return $"{option}={value} {unit} is outside what sku={sku} allows: {min}-{max}";
            }
        }

        if (options.TryGetValue(CachingMode, out var caching) && caching != "None")
        {
            if (Performance.ContainsKey(sku))
            {
                return $"{CachingMode}={caching} is not allowed for sku={sku}: only None";
            }

            if (size > MaxCachedSizeGiB)
            {
                return $"{CachingMode}={caching} is not allowed for a disk of {size} GiB: Azure caches only disks up to {MaxCachedSizeGiB} GiB; use None";
            }
        }

        if (options.ContainsKey(Zone) && sku.EndsWith("_ZRS", StringComparison.Ordinal))
        {
            return $"option \"{Zone}\" does not apply to sku={sku}: a zone-redundant disk spans the region's zones";
        }

        return DiskTags.CheckCount(options, Tags, fixedTags, TagRules, "disk", "Azure");
    }

    /// <summary>The caching an attachment gets: the option, else None where only None is allowed, else ReadOnly.</summary>
    public static string CachingOf(IReadOnlyDictionary<string, string> options, int? sizeGiB) =>
        options.GetValueOrDefault(CachingMode)
        ?? (Performance.ContainsKey(options[Sku]) || sizeGiB > MaxCachedSizeGiB ? "None" : "ReadOnly");

    public static IReadOnlyList<string> ToTagValues(IReadOnlyDictionary<string, string> options) => DiskTags.ToTagValues(options, MaxTagValue);

    /// <summary>A resource id of type Microsoft.Compute/<paramref name="type"/>, with the type segments spelled as Azure does; null otherwise.</summary>
    private static string? ResourceIdOf(string raw, string type)
    {
        var parts = raw.Trim().Trim('/').Split('/');
        return parts.Length == 8
            && parts[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase) && Guid.TryParse(parts[1], out _)
            && parts[2].Equals("resourceGroups", StringComparison.OrdinalIgnoreCase) && parts[3].Length is > 0 and <= 90
            && parts[4].Equals("providers", StringComparison.OrdinalIgnoreCase)
            && parts[5].Equals("Microsoft.Compute", StringComparison.OrdinalIgnoreCase)
            && parts[6].Equals(type, StringComparison.OrdinalIgnoreCase) && parts[7].Length is > 0 and <= 80
            && parts.All(p => p.Length > 0 && !p.Any(char.IsWhiteSpace))
            ? $"/subscriptions/{parts[1]}/resourceGroups/{parts[3]}/providers/Microsoft.Compute/{type}/{parts[7]}"
            : null;
    }
}
