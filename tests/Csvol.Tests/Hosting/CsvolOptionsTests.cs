using Csvol.Hosting;
using Microsoft.Extensions.Options;

namespace Csvol.Tests.Hosting;

public sealed class CsvolOptionsTests
{
    private static CsvolOptions FromEnv(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value);
        return CsvolOptions.FromEnvironment(name => map.GetValueOrDefault(name));
    }

    [Fact]
    public void FromEnvironment_Nothing_DefaultsOfAManagedPlugin()
    {
        var sut = FromEnv().Validated();

        Assert.Equal("local", sut.Backend);
        Assert.Equal("/run/docker/plugins/csvol.sock", sut.Socket);
        Assert.Equal("/var/lib/csvol", sut.StateDir);
        Assert.Equal("/mnt/volumes", sut.MountRoot);
        Assert.Equal(Serilog.Events.LogEventLevel.Information, sut.SerilogLevel);
    }

    [Fact]
    public void FromEnvironment_AllSet_Used()
    {
        var sut = FromEnv(("CSVOL_BACKEND", "nfs"), ("CSVOL_SOCKET", "/tmp/x.sock"), ("CSVOL_STATE_DIR", "/srv/state"),
            ("CSVOL_MOUNT_ROOT", "/srv/mnt"), ("CSVOL_LOG_LEVEL", "WARN")).Validated();

        Assert.Equal(("nfs", "/tmp/x.sock", "/srv/state", "/srv/mnt"), (sut.Backend, sut.Socket, sut.StateDir, sut.MountRoot));
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, sut.SerilogLevel);
    }

    [Theory]
    [InlineData("CSVOL_STATE_DIR", "relative/dir", "CSVOL_STATE_DIR=\"relative/dir\" must be an absolute path other than /")]
    [InlineData("CSVOL_MOUNT_ROOT", "/", "CSVOL_MOUNT_ROOT=\"/\" must be an absolute path other than /")]
    [InlineData("CSVOL_SOCKET", "csvol.sock", "CSVOL_SOCKET=\"csvol.sock\" must be an absolute path other than /")]
    [InlineData("CSVOL_LOG_LEVEL", "loud", "CSVOL_LOG_LEVEL=\"loud\" is not a log level; valid: verbose, debug, information, warning, error, fatal")]
    [InlineData("CSVOL_BACKEND", "", "CSVOL_BACKEND must name a storage backend")]
    public void Validated_BadSetting_MessageNamesTheVariable(string variable, string value, string expected)
    {
        var ex = Assert.Throws<OptionsValidationException>(() => FromEnv((variable, value)).Validated());

        Assert.Contains(expected, ex.Failures);
    }

    [Fact]
    public void Validated_SocketPathTooLongForSunPath_Refused()
    {
        var path = "/run/" + new string('s', 110) + ".sock";

        var ex = Assert.Throws<OptionsValidationException>(() => FromEnv(("CSVOL_SOCKET", path)).Validated());

        Assert.Contains($"CSVOL_SOCKET is {path.Length} bytes long; a Unix socket path can be at most 107", ex.Failures);
    }
}
