using System.Text.Json;
using Csvol.Linux;
using Csvol.Tests.Support;

namespace Csvol.Tests.Hosting;

/// <summary>
/// The state directory and the mount root as the kernel names them: mountinfo holds real paths, so a setting
/// given through a symlink must be resolved before any path is compared with it.
/// </summary>
public sealed class DirectoryTests : IDisposable
{
    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Mode0755 = Mode0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Start_DirectoriesMissing_BothCreated0700()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        environment["CSVOL_STATE_DIR"] = _dir.Sub("deep", "state");
        using var sut = CsvolProcess.Start(environment);

        (await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"])).Dispose();

        Assert.Equal(Mode0700, File.GetUnixFileMode(environment["CSVOL_STATE_DIR"]));
        Assert.Equal(Mode0700, File.GetUnixFileMode(environment["CSVOL_MOUNT_ROOT"]));
    }

    [Fact]
    public async Task Start_StateDirAndMountRootOpenToOthers_ClosedTo0700()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        Directory.CreateDirectory(environment["CSVOL_STATE_DIR"]);
        Directory.CreateDirectory(environment["CSVOL_MOUNT_ROOT"]);
        File.SetUnixFileMode(environment["CSVOL_STATE_DIR"], Mode0755 | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
        File.SetUnixFileMode(environment["CSVOL_MOUNT_ROOT"], Mode0755);
        using var sut = CsvolProcess.Start(environment);

        (await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"])).Dispose();

        Assert.Equal(Mode0700, File.GetUnixFileMode(environment["CSVOL_STATE_DIR"]));
        Assert.Equal(Mode0700, File.GetUnixFileMode(environment["CSVOL_MOUNT_ROOT"]));
    }

    [Fact]
    public async Task Mount_MountRootGivenThroughSymlink_AnswersTheRealPath()
    {
        Root.Require();
        var environment = LinkedEnvironment("CSVOL_MOUNT_ROOT", "mnt-real");
        using var sut = CsvolProcess.Start(environment);
        using var client = await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]);
        (await client.CallAsync("/VolumeDriver.Create", new { Name = "linked" })).AssertOk();

        var mount = (await client.CallAsync("/VolumeDriver.Mount", new { Name = "linked", ID = "a" })).AssertOk();

        Assert.Equal(_dir.Sub("mnt-real", "linked"), mount.Json.GetProperty("Mountpoint").GetString());
        Assert.Equal(1, TempDir.MountCount(_dir.Sub("mnt-real", "linked")));
    }

    [Fact]
    public async Task Start_StaleMountUnderSymlinkedMountRoot_Unmounted()
    {
        Root.Require();
        var environment = LinkedEnvironment("CSVOL_MOUNT_ROOT", "mnt-real");
        using (var crashed = CsvolProcess.Start(environment))
        {
            using var client = await crashed.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]);
            (await client.CallAsync("/VolumeDriver.Create", new { Name = "stale" })).AssertOk();
            (await client.CallAsync("/VolumeDriver.Mount", new { Name = "stale", ID = "a" })).AssertOk();
            crashed.Kill9();
        }

        // As if it died between forgetting the last ID and unmounting: the record says unmounted, the mount is there.
        await ForgetMountIdsAsync(Path.Combine(environment["CSVOL_STATE_DIR"], "volumes", "stale.json"));
        Assert.Equal(1, TempDir.MountCount(_dir.Sub("mnt-real", "stale")));
        using var sut = CsvolProcess.Start(environment);

        (await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"])).Dispose();

        Assert.Equal(0, TempDir.MountCount(_dir.Sub("mnt-real", "stale")));
    }

    [Fact]
    public async Task Remove_StateDirGivenThroughSymlink_NeverDescendsIntoAMountInsideTheVolume()
    {
        Root.Require();
        var environment = LinkedEnvironment("CSVOL_STATE_DIR", "state-real");
        using var sut = CsvolProcess.Start(environment);
        using var client = await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]);
        (await client.CallAsync("/VolumeDriver.Create", new { Name = "guarded" })).AssertOk();
        var foreign = _dir.Sub("foreign");
        Directory.CreateDirectory(foreign);
        await File.WriteAllTextAsync(Path.Combine(foreign, "other"), "not yours");
        var inside = _dir.Sub("state-real", "data", "guarded", "sub");
        Directory.CreateDirectory(inside);
        Libc.Mount(foreign, inside, null, MountFlags.Bind, null);

        (await client.CallAsync("/VolumeDriver.Remove", new { Name = "guarded" })).AssertOk();

        Assert.Equal("not yours", await File.ReadAllTextAsync(Path.Combine(foreign, "other")));
    }

    /// <summary>The usual environment, with <paramref name="variable"/> pointing at a symlink to <paramref name="target"/>.</summary>
    private Dictionary<string, string> LinkedEnvironment(string variable, string target)
    {
        var environment = CsvolProcess.EnvironmentFor(_dir);
        Directory.CreateDirectory(_dir.Sub(target));
        File.CreateSymbolicLink(environment[variable], _dir.Sub(target));
        return environment;
    }

    private static async Task ForgetMountIdsAsync(string recordPath)
    {
        var record = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(await File.ReadAllTextAsync(recordPath))!;
        record["MountIds"] = JsonSerializer.SerializeToElement(Array.Empty<string>());
        await File.WriteAllTextAsync(recordPath, JsonSerializer.Serialize(record));
    }
}
