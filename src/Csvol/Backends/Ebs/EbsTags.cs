namespace Csvol.Backends.Ebs;

/// <summary>The tags csvol writes on its volumes; <c>csvol/*</c> and <c>Name</c> are reserved for them.</summary>
internal static class EbsTags
{
    public const string Prefix = "csvol/";
    public const string NameTag = "Name";
    public const string VolumeName = "csvol/name";
    public const string Managed = "csvol/managed";
    public const string Cluster = "csvol/cluster";
    public const string FsType = "csvol/fsType";
    public const string Formatted = "csvol/formatted";

    /// <summary>The normalised options, <c>csvol/options</c>, then <c>csvol/options.2</c>, … when they need more than 256 characters.</summary>
    public const string Options = "csvol/options";

    /// <summary>Tags csvol writes besides the options' and the user's: name, managed, cluster, Name, fsType, and formatted later.</summary>
    public const int FixedCount = 6;

    public static string OptionsKey(int index) => Disks.DiskTags.ChunkKey(Options, index);
}
