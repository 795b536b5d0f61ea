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
}
