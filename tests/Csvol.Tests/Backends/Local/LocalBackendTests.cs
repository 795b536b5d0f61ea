using Csvol.Mounting;
using Csvol.Backends;
using Csvol.Backends.Local;
using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Csvol.Tests.Backends.Local;

/// <summary>The local backend against the real kernel: real directories, real bind and tmpfs mounts.</summary>
public sealed class LocalBackendTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly LinuxMounter _mounter = new();
    private readonly LocalBackend _sut;
    private static readonly Dictionary<string, string> NoSecrets = [];

    public LocalBackendTests()
    {
        Root.Require();
        _sut = new LocalBackend(_dir.Sub("state"), _mounter, new FakeTimeProvider(DateTimeOffset.UnixEpoch), NullLogger<LocalBackend>.Instance);
    }

    public void Dispose() => _dir.Dispose();

    private static VolumeRecord Volume(string name, params (string Key, string Value)[] options)
    {
        var normalized = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["type"] = "dir" };
        foreach (var (key, value) in options)
        {
            normalized[key] = value;
        }

        return new VolumeRecord { Name = name, Backend = "local", Options = normalized, CreatedAt = DateTimeOffset.UnixEpoch };
    }

    [Fact]
    public async Task Create_UidGidMode_AppliedToVolumeRoot()
    {
        await _sut.CreateAsync(Volume("owned", ("uid", "999"), ("gid", "998"), ("mode", "0750")), NoSecrets, default);

        var data = new DirectoryInfo(_sut.DataPathOf("owned"));
        Assert.Equal((UnixFileMode)Convert.ToInt32("750", 8), data.UnixFileMode);
        var stat = await ProcessRunner.RunAsync("stat", "-c", "%u:%g", data.FullName);
        Assert.Equal("999:998", stat.Trim());
    }

    [Fact]
    public async Task Create_NoOptions_RootOwned0755()
    {
        await _sut.CreateAsync(Volume("plain"), NoSecrets, default);

        Assert.Equal((UnixFileMode)Convert.ToInt32("755", 8), new DirectoryInfo(_sut.DataPathOf("plain")).UnixFileMode);
    }

    [Fact]
    public async Task Mount_DirWithNoexecNosuid_BindMountCarriesFlags()
    {
        var volume = Volume("flags", ("noexec", "true"), ("nosuid", "true"));
        await _sut.CreateAsync(volume, NoSecrets, default);
        var mountpoint = _dir.Sub("mnt", "flags");

        await _sut.MountAsync(volume, mountpoint, default);

        var options = TempDir.MountOptions(mountpoint).Split(',');
        Assert.Contains("noexec", options);
        Assert.Contains("nosuid", options);
        Assert.DoesNotContain("nodev", options);
        await File.WriteAllTextAsync(Path.Combine(mountpoint, "through"), "bind");
        Assert.Equal("bind", await File.ReadAllTextAsync(Path.Combine(_sut.DataPathOf("flags"), "through")));
    }

    [Fact]
    public async Task Mount_Tmpfs_SizeModeOwnerAndNothingOnDisk()
    {
        var volume = Volume("ram", ("type", "tmpfs"), ("size", "1048576"), ("mode", "0700"), ("uid", "999"), ("gid", "999"));
        await _sut.CreateAsync(volume, NoSecrets, default);
        var mountpoint = _dir.Sub("mnt", "ram");

        await _sut.MountAsync(volume, mountpoint, default);

        Assert.Equal((UnixFileMode)Convert.ToInt32("700", 8), new DirectoryInfo(mountpoint).UnixFileMode);
        Assert.Equal("999:999", (await ProcessRunner.RunAsync("stat", "-c", "%u:%g", mountpoint)).Trim());
        var df = await ProcessRunner.RunAsync("df", "--output=fstype,size", "-B1K", mountpoint);
        Assert.Contains("tmpfs", df, StringComparison.Ordinal);
        Assert.Contains("1024", df, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_sut.DataPathOf("ram")));
        var full = await Assert.ThrowsAsync<IOException>(() => File.WriteAllBytesAsync(Path.Combine(mountpoint, "big"), new byte[2 << 20]));
        Assert.Contains("No space left on device", full.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mount_StaleMountAtMountpoint_ReplacedNotStacked()
    {
        var volume = Volume("stacked");
        await _sut.CreateAsync(volume, NoSecrets, default);
        var mountpoint = _dir.Sub("mnt", "stacked");
        await _sut.MountAsync(volume, mountpoint, default);

        await _sut.MountAsync(volume, mountpoint, default);

        Assert.Equal(1, TempDir.MountCount(mountpoint));
    }

    [Fact]
    public async Task Remove_SymlinksPointingOutside_TargetsUntouched()
    {
        var volume = Volume("links");
        await _sut.CreateAsync(volume, NoSecrets, default);
        var outside = _dir.Sub("outside");
        Directory.CreateDirectory(outside);
        await File.WriteAllTextAsync(Path.Combine(outside, "precious"), "keep me");
        var data = _sut.DataPathOf("links");
        Directory.CreateSymbolicLink(Path.Combine(data, "dirlink"), outside);
        File.CreateSymbolicLink(Path.Combine(data, "filelink"), Path.Combine(outside, "precious"));
        Directory.CreateDirectory(Path.Combine(data, "deep", "er"));
        Directory.CreateSymbolicLink(Path.Combine(data, "deep", "er", "up"), "../../../../outside");
        File.SetUnixFileMode(Path.Combine(data, "deep"), UnixFileMode.UserRead | UnixFileMode.UserExecute);

        await _sut.RemoveAsync(volume, default);
        await _sut.PurgeAsync(volume, default);

        Assert.False(Directory.Exists(data));
        Assert.Equal("keep me", await File.ReadAllTextAsync(Path.Combine(outside, "precious")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Sub("state", "trash")));
    }

    [Fact]
    public async Task Purge_SomethingMountedInside_RefusesToDescendAndKeepsItInTrash()
    {
        var volume = Volume("guarded");
        await _sut.CreateAsync(volume, NoSecrets, default);
        var foreign = _dir.Sub("foreign");
        Directory.CreateDirectory(foreign);
        await File.WriteAllTextAsync(Path.Combine(foreign, "other"), "not yours");
        var inside = Path.Combine(_sut.DataPathOf("guarded"), "sub");
        Directory.CreateDirectory(inside);
        _mounter.Mount(foreign, inside, null, Csvol.Linux.MountFlags.Bind, null);

        await _sut.RemoveAsync(volume, default);
        await _sut.PurgeAsync(volume, default);

        Assert.Equal("not yours", await File.ReadAllTextAsync(Path.Combine(foreign, "other")));
        Assert.Single(Directory.EnumerateDirectories(_dir.Sub("state", "trash")));
    }

    [Fact]
    public async Task Check_RemoveInterruptedBeforeRecordDeleted_RestoresData()
    {
        var volume = Volume("undo");
        await _sut.CreateAsync(volume, NoSecrets, default);
        await File.WriteAllTextAsync(Path.Combine(_sut.DataPathOf("undo"), "f"), "still here");
        await _sut.RemoveAsync(volume, default); // crash here: the record was never deleted

        var state = await _sut.CheckAsync(volume, default);

        Assert.Equal(BackingState.Present, state);
        Assert.Equal("still here", await File.ReadAllTextAsync(Path.Combine(_sut.DataPathOf("undo"), "f")));
    }

    [Fact]
    public async Task Check_DataAndTrashGone_ReportsGone()
    {
        var state = await _sut.CheckAsync(Volume("vanished"), default);

        Assert.Equal(BackingState.Gone, state);
    }

    [Fact]
    public async Task CollectGarbage_EmptiesTrash_KeepsOrphanedData()
    {
        var removed = Volume("removed");
        await _sut.CreateAsync(removed, NoSecrets, default);
        await _sut.RemoveAsync(removed, default);
        await _sut.CreateAsync(Volume("orphan"), NoSecrets, default);

        await _sut.CollectGarbageAsync([], default);

        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Sub("state", "trash")));
        Assert.True(Directory.Exists(_sut.DataPathOf("orphan")));
    }

    [Theory]
    [InlineData("dir", "size", "option \"size\" applies only to type=tmpfs; a dir volume grows with the host file system")]
    public void CheckCombination_SizeOnDir_Err(string type, string option, string expected)
    {
        var options = new Dictionary<string, string> { ["type"] = type, [option] = "1024" };

        Assert.Equal(expected, _sut.CheckCombination(options));
    }

    [Fact]
    public void CheckCombination_SizeOnTmpfs_Fine() =>
        Assert.Null(_sut.CheckCombination(new Dictionary<string, string> { ["type"] = "tmpfs", ["size"] = "1024" }));
}
