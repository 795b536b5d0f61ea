using System.Net.Sockets;
using System.Text;
using Csvol.Backends.Local;
using Csvol.Linux;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.Local;

/// <summary>Deleting a tree on the real kernel: symlinks, mounts of the same and other file systems, depth, odd names.</summary>
public sealed class SafeTreeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public SafeTreeTests() => Root.Require();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Delete_FilesDirectoriesSymlinksSocket_AllGone()
    {
        var root = _dir.Sub("tree");
        Directory.CreateDirectory(Path.Combine(root, "a", "b", "c"));
        File.WriteAllText(Path.Combine(root, "a", "b", "c", "file"), "x");
        File.WriteAllText(Path.Combine(root, "top"), "x");
        File.CreateSymbolicLink(Path.Combine(root, "a", "dangling"), "/nonexistent/target");
        File.SetUnixFileMode(Path.Combine(root, "a", "b"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(root, "a", "socket")));
        }

        var left = SafeTree.Delete(root);

        Assert.Empty(left);
        Assert.False(Path.Exists(root));
    }

    [Fact]
    public void Delete_SymlinksToOutside_NeverFollowed()
    {
        var outside = _dir.Sub("outside");
        Directory.CreateDirectory(Path.Combine(outside, "sub"));
        File.WriteAllText(Path.Combine(outside, "precious"), "keep");
        File.WriteAllText(Path.Combine(outside, "sub", "precious"), "keep");
        var root = _dir.Sub("tree");
        Directory.CreateDirectory(Path.Combine(root, "deep", "er"));
        Directory.CreateSymbolicLink(Path.Combine(root, "absolute"), outside);
        Directory.CreateSymbolicLink(Path.Combine(root, "deep", "er", "relative"), "../../../outside");
        File.CreateSymbolicLink(Path.Combine(root, "file"), Path.Combine(outside, "precious"));

        var left = SafeTree.Delete(root);

        Assert.Empty(left);
        Assert.False(Path.Exists(root));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "precious")));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "sub", "precious")));
    }

    [Fact]
    public void Delete_RootIsSymlinkToDirectory_RemovesOnlyTheLink()
    {
        var outside = _dir.Sub("outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "precious"), "keep");
        var root = _dir.Sub("link");
        Directory.CreateSymbolicLink(root, outside);

        var left = SafeTree.Delete(root);

        Assert.Empty(left);
        Assert.False(Path.Exists(root));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "precious")));
    }

    [Fact]
    public async Task Delete_BindMountOfSameFileSystemInside_LeftInPlaceAndReported()
    {
        var foreign = _dir.Sub("foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "other"), "not yours");
        var root = _dir.Sub("tree");
        var mountpoint = Path.Combine(root, "a", "mnt");
        Directory.CreateDirectory(mountpoint);
        Directory.CreateDirectory(Path.Combine(root, "b"));
        File.WriteAllText(Path.Combine(root, "a", "sibling"), "x");
        File.WriteAllText(Path.Combine(root, "b", "file"), "x");
        Libc.Mount(foreign, mountpoint, null, MountFlags.Bind, null);
        try
        {
            // A same-device mount point: only the mount ID tells it apart.
            var device = await DeviceOfAsync(foreign);
            Assert.Equal(device, await DeviceOfAsync(Path.Combine(root, "a")));
            Assert.Equal(device, await DeviceOfAsync(mountpoint));

            var left = SafeTree.Delete(root);

            Assert.Equal([mountpoint], left);
            Assert.Equal("not yours", File.ReadAllText(Path.Combine(mountpoint, "other")));
            Assert.Equal(1, TempDir.MountCount(mountpoint));
            Assert.Equal(["mnt"], Directory.EnumerateFileSystemEntries(Path.Combine(root, "a")).Select(Path.GetFileName));
            Assert.Equal(["a"], Directory.EnumerateFileSystemEntries(root).Select(Path.GetFileName));
        }
        finally
        {
            Assert.Equal(0, Libc.TryUnmount(mountpoint, UnmountFlags.None));
        }

        Assert.Equal("not yours", File.ReadAllText(Path.Combine(foreign, "other")));
    }

    [Fact]
    public void Delete_TmpfsMountedInside_LeftInPlaceAndReported()
    {
        var root = _dir.Sub("tree");
        var mountpoint = Path.Combine(root, "ram");
        Directory.CreateDirectory(mountpoint);
        File.WriteAllText(Path.Combine(root, "file"), "x");
        Libc.Mount("csvol-test", mountpoint, "tmpfs", MountFlags.None, "size=1m");
        try
        {
            File.WriteAllText(Path.Combine(mountpoint, "in-memory"), "not yours");

            var left = SafeTree.Delete(root);

            Assert.Equal([mountpoint], left);
            Assert.Equal("not yours", File.ReadAllText(Path.Combine(mountpoint, "in-memory")));
            Assert.Equal(["ram"], Directory.EnumerateFileSystemEntries(root).Select(Path.GetFileName));
        }
        finally
        {
            Assert.Equal(0, Libc.TryUnmount(mountpoint, UnmountFlags.None));
        }
    }

    [Fact]
    public void Delete_RootIsMountPoint_LeftAndReported()
    {
        var foreign = _dir.Sub("foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "other"), "not yours");
        var root = _dir.Sub("tree");
        Directory.CreateDirectory(root);
        Libc.Mount(foreign, root, null, MountFlags.Bind, null);
        try
        {
            var left = SafeTree.Delete(root);

            Assert.Equal([root], left);
            Assert.Equal("not yours", File.ReadAllText(Path.Combine(root, "other")));
        }
        finally
        {
            Assert.Equal(0, Libc.TryUnmount(root, UnmountFlags.None));
        }
    }

    [Fact]
    public void Delete_MountPointBelowManyOpenDirectories_LeftWithItsAncestorsOnly()
    {
        var foreign = _dir.Sub("foreign");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "other"), "not yours");
        var root = _dir.Sub("tree");
        var deep = Path.Combine([root, .. Enumerable.Repeat("d", 80)]);
        var mountpoint = Path.Combine(deep, "mnt");
        Directory.CreateDirectory(mountpoint);
        File.WriteAllText(Path.Combine(deep, "sibling"), "x");
        Directory.CreateDirectory(Path.Combine(root, "d", "d", "other", "branch"));
        Libc.Mount(foreign, mountpoint, null, MountFlags.Bind, null);
        try
        {
            var left = SafeTree.Delete(root);

            Assert.Equal([mountpoint], left);
            Assert.Equal(["mnt"], Directory.EnumerateFileSystemEntries(deep).Select(Path.GetFileName));
            Assert.Equal(["d"], Directory.EnumerateFileSystemEntries(Path.Combine(root, "d", "d")).Select(Path.GetFileName));
        }
        finally
        {
            Assert.Equal(0, Libc.TryUnmount(mountpoint, UnmountFlags.None));
        }

        Assert.Equal("not yours", File.ReadAllText(Path.Combine(foreign, "other")));
    }

    [Fact]
    public void Delete_TreeDeeperThanPathMax_AllGone()
    {
        var root = _dir.Sub("tree");
        Directory.CreateDirectory(root);
        // 16 bytes × 400 is 6400, beyond PATH_MAX (4096); 400 levels are far more than SafeTree keeps open.
        RawFiles.CreateDeepChain(root, "level-directory", depth: 400);

        var left = SafeTree.Delete(root);

        Assert.Empty(left);
        Assert.False(Path.Exists(root));
    }

    [Fact]
    public void Delete_OddNames_AllGone()
    {
        var root = _dir.Sub("tree");
        Directory.CreateDirectory(root);
        byte[][] names =
        [
            [0xff, 0xfe, (byte)'x'], // not UTF-8: decoded and encoded again it would name another entry
            Encoding.UTF8.GetBytes("new\nline"),
            Encoding.UTF8.GetBytes("back\\slash and space"),
            Encoding.UTF8.GetBytes("-rf"),
            Encoding.UTF8.GetBytes("*"),
            Encoding.UTF8.GetBytes("..."),
            Encoding.UTF8.GetBytes(".hidden"),
            Encoding.UTF8.GetBytes("ütf-8 ✓"),
            Encoding.UTF8.GetBytes(new string('n', 255)),
        ];
        foreach (var name in names)
        {
            RawFiles.CreateFile(root, name);
            RawFiles.CreateDirectory(root, [.. name[..Math.Min(name.Length, 250)], .. "-dir"u8]);
        }

        RawFiles.CreateFile(Path.Combine(root, "-rf-dir"), [0x80]);
        Assert.Equal(2 * names.Length, Directory.EnumerateFileSystemEntries(root).Count());

        var left = SafeTree.Delete(root);

        Assert.Empty(left);
        Assert.False(Path.Exists(root));
    }

    [Fact]
    public void Delete_RootMissing_NothingLeft()
    {
        var left = SafeTree.Delete(_dir.Sub("never-made"));

        Assert.Empty(left);
    }

    private static async Task<string> DeviceOfAsync(string path) => (await ProcessRunner.RunAsync("stat", "-c", "%d", path)).Trim();
}
