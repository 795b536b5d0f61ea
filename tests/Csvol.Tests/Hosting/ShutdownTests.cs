using System.Diagnostics;
using Csvol.Tests.Support;

namespace Csvol.Tests.Hosting;

/// <summary>SIGTERM (docker plugin disable) ends the real process promptly, whatever its callers are doing.</summary>
public sealed class ShutdownTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Sigterm_ClientNeverFinishesItsHeaders_ExitsWithinTenSeconds()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        using var sut = CsvolProcess.Start(environment);
        (await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"])).Dispose();
        using var stalled = PluginPeer.ConnectAndStall(environment["CSVOL_SOCKET"]);
        var pid = PluginPeer.PidOf(stalled);

        var stopwatch = Stopwatch.StartNew();
        await PluginPeer.TerminateAsync(pid);
        var exitCode = await WaitForExitOrNullAsync(sut, TimeSpan.FromSeconds(10));

        Assert.True(exitCode is not null, $"csvol was still running {stopwatch.Elapsed.TotalSeconds:0.0} s after SIGTERM: {sut.Output}");
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task Sigterm_Idle_ExitsZeroAndLeavesMountsInPlace()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        using var sut = CsvolProcess.Start(environment);
        using (var client = await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]))
        {
            (await client.CallAsync("/VolumeDriver.Create", new { Name = "kept" })).AssertOk();
            (await client.CallAsync("/VolumeDriver.Mount", new { Name = "kept", ID = "a" })).AssertOk();
        }

        await PluginPeer.TerminateAsync(PluginPeer.PidServing(environment["CSVOL_SOCKET"]));
        var exitCode = await WaitForExitOrNullAsync(sut, TimeSpan.FromSeconds(10));

        Assert.Equal(0, exitCode);
        Assert.Equal(1, TempDir.MountCount(_dir.Sub("mnt", "kept")));
    }

    private static async Task<int?> WaitForExitOrNullAsync(CsvolProcess process, TimeSpan timeout)
    {
        try
        {
            return await process.WaitForExitAsync(timeout);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
