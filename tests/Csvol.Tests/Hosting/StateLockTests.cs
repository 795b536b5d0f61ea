using Csvol.Tests.Support;

namespace Csvol.Tests.Hosting;

/// <summary>One csvol per state directory: a second would remove and unmount behind the first one's back.</summary>
public sealed class StateLockTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Start_StateDirHeldByAnotherCsvol_ExitsOneNamingTheHolder()
    {
        Root.Require();
        var first = CsvolProcess.EnvironmentFor(_dir);
        using var holder = CsvolProcess.Start(first);
        using var client = await holder.WaitUntilReadyAsync(first["CSVOL_SOCKET"]);
        var holderPid = PluginPeer.PidServing(first["CSVOL_SOCKET"]);
        var second = new Dictionary<string, string>(first)
        {
            ["CSVOL_SOCKET"] = _dir.Sub("second.sock"),
            ["CSVOL_MOUNT_ROOT"] = _dir.Sub("second-mnt"),
        };

        using var sut = CsvolProcess.Start(second);
        var exitCode = await sut.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, exitCode);
        Assert.Contains(
            $"csvol: CSVOL_STATE_DIR={first["CSVOL_STATE_DIR"]} is in use by another running process (csvol pid {holderPid}, socket {first["CSVOL_SOCKET"]})",
            sut.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(second["CSVOL_SOCKET"]));
        (await client.PostAsync("/Plugin.Activate")).AssertOk();
    }

    [Fact]
    public async Task Start_LockLeftByAKilledCsvol_Serves()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        using (var killed = CsvolProcess.Start(environment))
        {
            (await killed.WaitUntilReadyAsync(environment["CSVOL_SOCKET"])).Dispose();
            killed.Kill9();
        }

        using var sut = CsvolProcess.Start(environment);
        using var client = await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]);

        (await client.CallAsync("/VolumeDriver.Create", new { Name = "after" })).AssertOk();
    }
}
