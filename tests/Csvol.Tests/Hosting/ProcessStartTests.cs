using Csvol.Tests.Support;

namespace Csvol.Tests.Hosting;

/// <summary>Start-up of the real executable: bad settings stop it with a message; a stale socket does not.</summary>
public sealed class ProcessStartTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    // Which backends follow depends on the binary under test (each plugin's has only its own, CsvolBackends).
    [InlineData("CSVOL_BACKEND", "s3", "CSVOL_BACKEND=\"s3\" is not a storage backend csvol has; valid values: ")]
    [InlineData("CSVOL_STATE_DIR", "state", "CSVOL_STATE_DIR=\"state\" must be an absolute path other than /")]
    [InlineData("CSVOL_LOG_LEVEL", "chatty", "CSVOL_LOG_LEVEL=\"chatty\" is not a log level")]
    public async Task Start_BadSetting_ExitsOneNamingTheVariable(string variable, string value, string expected)
    {
        var environment = CsvolProcess.EnvironmentFor(_dir);
        environment[variable] = value;
        using var sut = CsvolProcess.Start(environment);

        var exitCode = await sut.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, exitCode);
        Assert.Contains("csvol: " + expected, sut.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(environment["CSVOL_SOCKET"]));
    }

    [Fact]
    public async Task Start_StaleSocketFileFromACrash_ReplacedAndServing()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        using (var crashed = CsvolProcess.Start(environment))
        {
            (await crashed.WaitUntilReadyAsync(environment["CSVOL_SOCKET"])).Dispose();
            crashed.Kill9();
        }

        Assert.True(File.Exists(environment["CSVOL_SOCKET"]), "kill -9 should leave the socket file behind");
        using var sut = CsvolProcess.Start(environment);

        using var client = await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]);

        (await client.PostAsync("/Plugin.Activate")).AssertOk();
    }

    [Fact]
    public async Task Start_SocketServedByAnotherCsvol_SecondRefusesAndFirstKeepsServing()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        using var first = CsvolProcess.Start(environment);
        using var client = await first.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]);

        using var sut = CsvolProcess.Start(environment);
        var exitCode = await sut.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, exitCode);
        Assert.Contains("is in use by another running process", sut.Output, StringComparison.Ordinal);
        (await client.PostAsync("/Plugin.Activate")).AssertOk();
    }
}
