namespace Csvol.Backends.AzureDisk;

/// <summary>The tags csvol writes on its disks; <c>csvol-*</c> is reserved for them (Azure keys cannot hold '/').</summary>
internal static class AzureDiskTags
{
    public const string Prefix = "csvol-";
    public const string VolumeName = "csvol-name";
    public const string Managed = "csvol-managed";
    public const string Cluster = "csvol-cluster";
    public const string FsType = "csvol-fsType";
    public const string Formatted = "csvol-formatted";

    /// <summary>The normalised options, <c>csvol-options</c>, then <c>csvol-options.2</c>, … when they need more than 256 characters.</summary>
    public const string Options = "csvol-options";

    /// <summary>Tags csvol writes besides the options' and the user's: name, managed, cluster, fsType, and formatted later.</summary>
    public const int FixedCount = 5;

    public static string OptionsKey(int index) => Disks.DiskTags.ChunkKey(Options, index);
}
