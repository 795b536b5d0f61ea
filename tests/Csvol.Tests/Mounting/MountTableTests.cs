using Csvol.Mounting;
using Csvol.Tests.Support;

namespace Csvol.Tests.Mounting;

public sealed class MountTableTests
{
    [Fact]
    public void ParseMountpoint_OrdinaryLine_FifthField() =>
        Assert.Equal("/mnt/volumes/v1", MountTable.ParseMountpoint(
            "36 35 98:0 /data/v1 /mnt/volumes/v1 rw,noatime master:1 - ext4 /dev/root rw,errors=continue"));

    [Fact]
    public void ParseMountpoint_OctalEscapes_Decoded() =>
        Assert.Equal("/mnt/a b\tc\\d", MountTable.ParseMountpoint(
            @"36 35 98:0 / /mnt/a\040b\011c\134d rw - tmpfs tmpfs rw"));

    [Fact]
    public void ParseMountpoint_TruncatedLine_Null() => Assert.Null(MountTable.ParseMountpoint("36 35 98:0"));

    [Fact]
    public void Mountpoints_RealMountWithSpaceInPath_Listed()
    {
        Root.Require();
        using var dir = new TempDir();
        var target = dir.Sub("with space");
        Directory.CreateDirectory(target);
        var sut = new LinuxMounter();

        sut.Mount("tmpfs", target, "tmpfs", Csvol.Linux.MountFlags.None, "size=64k");

        Assert.Contains(target, sut.Mountpoints());
        sut.Unmount(target);
        Assert.DoesNotContain(target, sut.Mountpoints());
    }

    [Fact]
    public void Unmount_NotMounted_Succeeds()
    {
        Root.Require();
        using var dir = new TempDir();

        new LinuxMounter().Unmount(dir.Path);
        new LinuxMounter().Unmount(dir.Sub("does-not-exist"));
    }

    [Fact]
    public async Task Unmount_Busy_ErrSaysBusy()
    {
        Root.Require();
        using var dir = new TempDir();
        var target = dir.Sub("busy");
        Directory.CreateDirectory(target);
        var sut = new LinuxMounter();
        sut.Mount("tmpfs", target, "tmpfs", Csvol.Linux.MountFlags.None, "size=64k");
        var file = Path.Combine(target, "open");
        await File.WriteAllTextAsync(file, "x");

        using (var held = File.OpenRead(file))
        {
            var ex = Assert.Throws<MountBusyException>(() => sut.Unmount(target));
            Assert.Contains("busy", ex.Message, StringComparison.Ordinal);
        }

        sut.Unmount(target);
    }
}
