using System.Diagnostics;
using Csvol.Tests.Support;

namespace Csvol.Tests.Hosting;

/// <summary>
/// The socket opens before the state loads: dockerd's first calls connect at once, and Activate and Capabilities never
/// wait for the state. A record that is a FIFO blocks the load (its read waits for a writer that never comes).
/// </summary>
public sealed class StartOrderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Start_StateStillLoading_ActivateAndCapabilitiesAnswer()
    {
        Root.Require();
        var environment = await StuckEnvironmentAsync();
        using var sut = CsvolProcess.Start(environment);
        using var client = await ConnectedAsync(sut, environment["CSVOL_SOCKET"]);

        var activate = (await client.PostAsync("/Plugin.Activate")).AssertOk();
        var capabilities = (await client.PostAsync("/VolumeDriver.Capabilities", "{}")).AssertOk();

        Assert.Equal("""{"Implements":["VolumeDriver"]}""", activate.Body);
        Assert.Equal("""{"Capabilities":{"Scope":"local"}}""", capabilities.Body);
    }

    [Fact]
    public async Task Sigterm_StateLoadStuck_ExitsWithinTenSeconds()
    {
        Root.Require();
        var environment = await StuckEnvironmentAsync();
        using var sut = CsvolProcess.Start(environment);
        (await ConnectedAsync(sut, environment["CSVOL_SOCKET"])).Dispose();
        var stopwatch = Stopwatch.StartNew();

        await PluginPeer.TerminateAsync(PluginPeer.PidServing(environment["CSVOL_SOCKET"]));
        int? exitCode;
        try
        {
            exitCode = await sut.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
            exitCode = null;
        }

        Assert.True(exitCode is not null, $"csvol was still running {stopwatch.Elapsed.TotalSeconds:0.0} s after SIGTERM: {sut.Output}");
    }

    private async Task<Dictionary<string, string>> StuckEnvironmentAsync()
    {
        var environment = CsvolProcess.EnvironmentFor(_dir);
        Directory.CreateDirectory(_dir.Sub("state", "volumes"));
        await ProcessRunner.RunAsync("mkfifo", _dir.Sub("state", "volumes", "stuck.json"));
        return environment;
    }

    /// <summary>A client once the socket accepts connections; unlike WaitUntilReadyAsync, it does not wait for the state.</summary>
    private static async Task<PluginClient> ConnectedAsync(CsvolProcess process, string socket)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                PluginPeer.Connect(socket).Dispose();
                return new PluginClient(socket);
            }
            catch (System.Net.Sockets.SocketException)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"csvol did not listen within 30 s: {process.Output}");
                await Task.Delay(50);
            }
        }
    }
}
