using Csvol.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Csvol.Tests.Hosting;

public sealed class CsvolSettingsTests
{
    /// <summary>The settings as the app binds and validates them, from these variables alone.</summary>
    private static CsvolSettings Bind(params (string Name, string Value)[] variables)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(variables.Select(v => KeyValuePair.Create(v.Name, (string?)v.Value)))
            .Build();
        using var services = new ServiceCollection().AddCsvolSettings(configuration).BuildServiceProvider();
        return services.GetRequiredService<CsvolSettings>();
    }

    [Fact]
    public void Bind_Nothing_DefaultsOfAManagedPlugin()
    {
        var sut = Bind();

        Assert.Equal("local", sut.Backend);
        Assert.Equal("/run/docker/plugins/csvol.sock", sut.Socket);
        Assert.Equal("/var/lib/csvol", sut.StateDir);
        Assert.Equal("/mnt/volumes", sut.MountRoot);
        Assert.Equal(Serilog.Events.LogEventLevel.Information, sut.SerilogLevel);
    }

    [Fact]
    public void Bind_AllSet_Used()
    {
        var sut = Bind(("CSVOL_BACKEND", "nfs"), ("CSVOL_SOCKET", "/tmp/x.sock"), ("CSVOL_STATE_DIR", "/srv/state"),
            ("CSVOL_MOUNT_ROOT", "/srv/mnt"), ("CSVOL_LOG_LEVEL", "WARN"));

        Assert.Equal(("nfs", "/tmp/x.sock", "/srv/state", "/srv/mnt"), (sut.Backend, sut.Socket, sut.StateDir, sut.MountRoot));
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, sut.SerilogLevel);
    }

    [Fact]
    public void ForVolumes_SecondsSettings_BecomeTheServiceTimings()
    {
        var sut = Bind(("CSVOL_CALL_DEADLINE", "100"), ("CSVOL_DISCOVERY_INTERVAL", "7"), ("CSVOL_REPAIR_INTERVAL", "3"));

        var volumes = sut.ForVolumes("/real/mnt");

        Assert.Equal(
            ("/real/mnt", TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(3)),
            (volumes.MountRoot, volumes.CallDeadline, volumes.DiscoveryInterval, volumes.RepairInterval));
        Assert.Equal(TimeSpan.FromSeconds(25), Bind().ForVolumes("/m").CallDeadline);
    }

    [Theory]
    [InlineData("CSVOL_STATE_DIR", "relative/dir", "CSVOL_STATE_DIR=\"relative/dir\" must be an absolute path other than /")]
    [InlineData("CSVOL_MOUNT_ROOT", "/", "CSVOL_MOUNT_ROOT=\"/\" must be an absolute path other than /")]
    [InlineData("CSVOL_SOCKET", "csvol.sock", "CSVOL_SOCKET=\"csvol.sock\" must be an absolute path other than /")]
    [InlineData("CSVOL_LOG_LEVEL", "loud", "CSVOL_LOG_LEVEL=\"loud\" is not a log level; valid: verbose, debug, information, warning, error, fatal")]
    [InlineData("CSVOL_BACKEND", "", "CSVOL_BACKEND must name a storage backend")]
    [InlineData("CSVOL_CALL_DEADLINE", "0", "CSVOL_CALL_DEADLINE=\"0\" must be a whole number of seconds from 1 to 600")]
    [InlineData("CSVOL_CALL_DEADLINE", "25s", "CSVOL_CALL_DEADLINE=\"25s\" must be a whole number of seconds from 1 to 600")]
    [InlineData("CSVOL_DISCOVERY_INTERVAL", "86401", "CSVOL_DISCOVERY_INTERVAL=\"86401\" must be a whole number of seconds from 1 to 86400")]
    [InlineData("CSVOL_REPAIR_INTERVAL", "-5", "CSVOL_REPAIR_INTERVAL=\"-5\" must be a whole number of seconds from 1 to 86400")]
    public void Bind_BadSetting_MessageNamesTheVariable(string variable, string value, string expected)
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Bind((variable, value)));

        Assert.Contains(expected, ex.Failures);
    }

    [Fact]
    public void Bind_SocketPathTooLongForSunPath_Refused()
    {
        var path = "/run/" + new string('s', 110) + ".sock";

        var ex = Assert.Throws<OptionsValidationException>(() => Bind(("CSVOL_SOCKET", path)));

        Assert.Contains($"CSVOL_SOCKET is {path.Length} bytes long; a Unix socket path can be at most 107", ex.Failures);
    }

    [Fact]
    public void Bind_SeveralBad_EveryProblemReportedAtOnce()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Bind(("CSVOL_STATE_DIR", "state"), ("CSVOL_LOG_LEVEL", "loud")));

        Assert.Equal(2, ex.Failures.Count());
    }
}
