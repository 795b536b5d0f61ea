using System.Text.Json;
using Csvol.EndToEnd.Harness;

namespace Csvol.EndToEnd;

/// <summary>
/// What a user of csvol/local sees through the docker CLI. Runs once per flavour: managed plugin and host
/// process (see the derived classes).
/// </summary>
public abstract class LocalVolumeTests(IPluginUnderTest sut) : IAsyncLifetime
{
    private const string ValidOptions = "valid options: gid, mode, nodev, noexec, nosuid, size, type, uid";

    private readonly DockerScope _docker = new(sut);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _docker.DisposeAsync();

    [Fact]
    public async Task Create_WithOwnerGroupAndMode_InspectShowsDriverOptionsAndStatus()
    {
        var name = await _docker.CreateVolumeAsync("uid=999", "gid=999", "mode=0750");

        using var inspect = JsonDocument.Parse(await Docker.MustAsync("volume", "inspect", name));
        var volume = inspect.RootElement[0];
        Assert.StartsWith(sut.Driver, volume.GetProperty("Driver").GetString(), StringComparison.Ordinal);
        Assert.Equal("local", volume.GetProperty("Scope").GetString());
        Assert.Equal("999", volume.GetProperty("Options").GetProperty("uid").GetString());
        var status = volume.GetProperty("Status");
        Assert.Equal("csvol/local", status.GetProperty("driver").GetString());
        Assert.Equal("dir", status.GetProperty("type").GetString());
        Assert.Equal("0", status.GetProperty("mounts").GetString());
        Assert.EndsWith("/data/" + name, status.GetProperty("dataPath").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_UserOwningTheVolume_WritesFileTheNextContainerReads()
    {
        var name = await _docker.CreateVolumeAsync("uid=999", "gid=999", "mode=0750");

        (await _docker.RunAsync(["--user", "999", "-v", name + ":/d"], "echo ok > /d/f")).MustSucceed();
        var read = (await _docker.RunAsync(["-v", name + ":/d"], "cat /d/f; stat -c %u:%g:%a /d")).MustSucceed();

        Assert.Equal("ok\n999:999:750", read.StdOut.Trim());
        Assert.Equal("ok\n", await File.ReadAllTextAsync(Path.Combine(sut.HostDataDirectoryOf(name), "f")));
    }

    [Fact]
    public async Task Run_OtherUserOnDefaultVolume_PermissionDenied()
    {
        var name = await _docker.CreateVolumeAsync();

        var write = await _docker.RunAsync(["--user", "999", "-v", name + ":/d"], "echo no > /d/f");

        Assert.NotEqual(0, write.ExitCode);
        Assert.Contains("Permission denied", write.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(sut.HostDataDirectoryOf(name), "f")));
    }

    [Fact]
    public async Task Run_ReadOnlyBesideReadWriteContainer_OnlyTheWriterCanWrite()
    {
        var name = await _docker.CreateVolumeAsync();
        (await _docker.RunAsync(["-v", name + ":/d"], "echo first > /d/a")).MustSucceed();
        var writer = await _docker.StartAsync(["-v", name + ":/d"]);

        var reader = await _docker.RunAsync(["-v", name + ":/d:ro"], "cat /d/a; echo x > /d/b");
        var append = await Docker.RunAsync("exec", writer, "sh", "-c", "echo second >> /d/a && cat /d/a");

        Assert.NotEqual(0, reader.ExitCode);
        Assert.Equal("first", reader.StdOut.Trim());
        Assert.Contains("Read-only file system", reader.StdErr, StringComparison.Ordinal);
        Assert.Equal("first\nsecond", append.MustSucceed().StdOut.Trim());
    }

    [Fact]
    public async Task Run_WriteBeyondTmpfsSize_NoSpaceLeftOnDevice()
    {
        var name = await _docker.CreateVolumeAsync("type=tmpfs", "size=1m");

        var fill = await _docker.RunAsync(["-v", name + ":/d"], "dd if=/dev/zero of=/d/big bs=64k count=32");

        Assert.NotEqual(0, fill.ExitCode);
        Assert.Contains("No space left on device", fill.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ProgramOnNoexecTmpfs_PermissionDenied()
    {
        var name = await _docker.CreateVolumeAsync("type=tmpfs", "noexec");

        var exec = await _docker.RunAsync(["-v", name + ":/d"], "cp /bin/true /d/true && /d/true");

        Assert.Equal(126, exec.ExitCode);
        Assert.Contains("Permission denied", exec.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_TmpfsVolume_ContentsStayOffDiskAndGoWithLastUnmount()
    {
        var name = await _docker.CreateVolumeAsync("type=tmpfs", "size=8m");
        var holder = await _docker.StartAsync(["-v", name + ":/d"], "echo secret > /d/f && sleep 300");
        (await DockerScope.ExecUntilAsync(holder, "test -s /d/f", TimeSpan.FromSeconds(30))).MustSucceed();

        var mounts = MountTable.At(sut.HostMountpointOf(name));
        var dataDirectoryExisted = Directory.Exists(sut.HostDataDirectoryOf(name));
        var statusType = await DockerScope.StatusAsync(name, "type");
        await _docker.RemoveContainerAsync(holder);
        var after = (await _docker.RunAsync(["-v", name + ":/d"], "ls -A /d | wc -l")).MustSucceed();

        Assert.Equal("tmpfs", statusType);
        Assert.Contains(mounts, m => m.FileSystemType == "tmpfs");
        Assert.False(dataDirectoryExisted, "a tmpfs volume must have no data directory on disk");
        Assert.Equal("0", after.StdOut.Trim());
    }

    [Fact]
    public async Task Remove_WhileAContainerUsesTheVolume_RefusedAsInUse()
    {
        var name = await _docker.CreateVolumeAsync();
        var holder = await _docker.StartAsync(["-v", name + ":/d"]);

        var remove = await Docker.RunAsync("volume", "rm", name);

        Assert.NotEqual(0, remove.ExitCode);
        Assert.Contains("in use", remove.StdErr, StringComparison.Ordinal);
        Assert.Equal("1", await DockerScope.StatusAsync(name, "mounts"));
        Assert.True(Directory.Exists(sut.HostDataDirectoryOf(name)));
        await _docker.RemoveContainerAsync(holder);
    }

    [Fact]
    public async Task Remove_AfterTheContainerIsGone_DeletesVolumeAndData()
    {
        var name = await _docker.CreateVolumeAsync();
        var holder = await _docker.StartAsync(["-v", name + ":/d"], "echo data > /d/f && sleep 300");
        (await DockerScope.ExecUntilAsync(holder, "test -s /d/f", TimeSpan.FromSeconds(30))).MustSucceed();
        await _docker.RemoveContainerAsync(holder);

        var remove = await Docker.RunAsync("volume", "rm", name);

        remove.MustSucceed();
        Assert.False((await Docker.RunAsync("volume", "inspect", name)).Succeeded, "the volume is still listed");
        Assert.False(Directory.Exists(sut.HostDataDirectoryOf(name)), "the data directory is still there");
        Assert.Empty(MountTable.At(sut.HostMountpointOf(name)));
    }

    // Docker validates names only for its own local driver: these reach csvol, which must refuse them.
    [Theory]
    [InlineData("a", "invalid volume name \"a\" (1 characters)")]
    [InlineData("-bad", "invalid volume name \"-bad\"")]
    [InlineData("x/y", "invalid volume name \"x/y\"")]
    public async Task Create_InvalidName_PluginExplainsTheRule(string name, string expected)
    {
        var create = await _docker.TryCreateVolumeAsync(name);

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains(expected, create.StdErr, StringComparison.Ordinal);
        Assert.Contains("starts with a letter or digit", create.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_UnknownOption_PluginListsValidOptions()
    {
        var name = _docker.NewVolumeName();

        var create = await _docker.TryCreateVolumeAsync(name, "bogus=1");

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("unknown option \"bogus\" for csvol/local; " + ValidOptions, create.StdErr, StringComparison.Ordinal);
        Assert.False((await Docker.RunAsync("volume", "inspect", name)).Succeeded, "a refused volume must not exist");
    }

    [Fact]
    public async Task Create_SizeOnDirVolume_RefusedWithReason()
    {
        var create = await _docker.TryCreateVolumeAsync(_docker.NewVolumeName(), "size=64m");

        Assert.NotEqual(0, create.ExitCode);
        Assert.Contains("option \"size\" applies only to type=tmpfs", create.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_TwelveConcurrentContainers_AllWriteAndVolumeEndsUnmounted()
    {
        const int Containers = 12;
        var name = await _docker.CreateVolumeAsync();
        var mountpoint = sut.HostMountpointOf(name);
        // Proves the mount point is the one the mount table shows, so "no mount" below means something.
        var holder = await _docker.StartAsync(["-v", name + ":/d"]);
        var mountedWhileHeld = MountTable.At(mountpoint).Count;
        await _docker.RemoveContainerAsync(holder);

        var runs = await Task.WhenAll(Enumerable.Range(0, Containers).Select(i =>
            _docker.RunAsync(["-v", name + ":/d"], $"echo {i} > /d/{i} && sleep 0.5")));
        var files = (await _docker.RunAsync(["-v", name + ":/d"], "ls /d | wc -l")).MustSucceed();

        Assert.True(mountedWhileHeld > 0, $"no mount at {mountpoint} while a container used it:\n{MountTable.Describe()}");
        Assert.All(runs, r => Assert.True(r.Succeeded, r.Describe()));
        Assert.Equal(Containers.ToString(System.Globalization.CultureInfo.InvariantCulture), files.StdOut.Trim());
        Assert.Empty(MountTable.At(mountpoint));
        Assert.Equal("0", await DockerScope.StatusAsync(name, "mounts"));
    }
}

[Collection(ManagedCollection.Name)]
public sealed class ManagedLocalVolumeTests(ManagedPluginFixture sut) : LocalVolumeTests(sut);

[Collection(UnmanagedCollection.Name)]
public sealed class UnmanagedLocalVolumeTests(UnmanagedPluginFixture sut) : LocalVolumeTests(sut);
