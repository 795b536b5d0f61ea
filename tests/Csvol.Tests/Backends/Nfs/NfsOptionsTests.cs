using Csvol.Backends.Nfs;
using Csvol.Mounting;
using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Csvol.Tests.Backends.Nfs;

public sealed class NfsOptionsTests
{
    private static readonly NfsSettings Defaults = new() { Server = "nfs.example", Share = "/exports/team" };

    [Theory]
    [InlineData("NFS.Example.", "nfs.example")]
    [InlineData("10.0.2.2", "10.0.2.2")]
    [InlineData("[fd00::1]", "[fd00::1]")]
    public void NormalizeServer_ValidNames_Canonical(string raw, string expected) =>
        Assert.Equal(expected, NfsOptions.NormalizeServer(raw));

    [Theory]
    [InlineData("nfs server")]
    [InlineData("host:/path")]
    [InlineData("fd00::1")]
    [InlineData("10.1")]
    [InlineData("-bad.example")]
    [InlineData("")]
    public void NormalizeServer_Invalid_Null(string raw) => Assert.Null(NfsOptions.NormalizeServer(raw));

    [Theory]
    [InlineData("/exports//team/", "/exports/team")]
    [InlineData("/", "/")]
    public void NormalizeShare_Valid_Canonical(string raw, string expected) => Assert.Equal(expected, NfsOptions.NormalizeShare(raw));

    [Theory]
    [InlineData("exports/team")]
    [InlineData("/exports/../etc")]
    [InlineData("/exports/a,b")]
    [InlineData("/exports/a\nb")]
    public void NormalizeShare_Invalid_Null(string raw) => Assert.Null(NfsOptions.NormalizeShare(raw));

    [Theory]
    [InlineData("app-uploads", "app-uploads")]
    [InlineData("/team/app/", "team/app")]
    public void NormalizeSubdir_Valid_Canonical(string raw, string expected) => Assert.Equal(expected, NfsOptions.NormalizeSubdir(raw));

    [Theory]
    [InlineData("..")]
    [InlineData("a/../b")]
    [InlineData(".csvol")]
    [InlineData("a b")]
    [InlineData("")]
    public void NormalizeSubdir_Invalid_Null(string raw) => Assert.Null(NfsOptions.NormalizeSubdir(raw));

    [Fact]
    public void Normalize_ThroughTheCore_FillsPluginDefaultsAndKeepsSubdirUnset()
    {
        var sut = NormalizerFor(Defaults);

        var options = sut.Normalize(new Dictionary<string, string> { ["o"] = "nfsvers=4.1", ["mode"] = "750" }).Stored;

        Assert.Equal("nfs.example", options["server"]);
        Assert.Equal("/exports/team", options["share"]);
        Assert.Equal("vers=4.1", options["o"]);
        Assert.Equal("0750", options["mode"]);
        Assert.False(options.ContainsKey("subdir"));
        Assert.Equal("nfs.example:/exports/team/vol", NfsOptions.LocationOf("vol", options).Source);
    }

    [Fact]
    public void Normalize_NoServerConfiguredOrGiven_ErrSaysWhatIsNeeded()
    {
        var sut = NormalizerFor(new NfsSettings());

        var ex = Assert.Throws<VolumeException>(() => sut.Normalize(new Dictionary<string, string> { ["share"] = "/x" }));

        Assert.Contains("option \"server\" is needed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_MountOptionOutsideAllowlist_ErrNamesIt()
    {
        var sut = NormalizerFor(Defaults);

        var ex = Assert.Throws<VolumeException>(() => sut.Normalize(new Dictionary<string, string> { ["o"] = "vers=4,addr=1.2.3.4" }));

        Assert.Contains("invalid value \"vers=4,addr=1.2.3.4\" for option \"o\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"addr\" is not one", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void From_BadSettings_StopNamingTheVariable()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [NfsSettings.OptionsVariable] = "vers=4.1,suid=1",
        }).Build();

        var ex = Assert.Throws<InvalidOperationException>(() => NfsSettings.From(configuration));

        Assert.StartsWith("CSVOL_NFS_OPTIONS=", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void From_GoodSettings_DefaultExportAndTimeout()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [NfsSettings.ServerVariable] = "NFS-Server",
            [NfsSettings.ShareVariable] = "/exports/team/",
            [NfsSettings.TimeoutVariable] = "5",
        }).Build();

        var sut = NfsSettings.From(configuration);

        Assert.Equal(new NfsExport("nfs-server", "/exports/team"), sut.DefaultExport);
        Assert.Equal(TimeSpan.FromSeconds(5), sut.StepTimeout);
    }

    /// <summary>The real backend: its constructor only prepares a directory; nothing here mounts.</summary>
    private static OptionNormalizer NormalizerFor(NfsSettings settings)
    {
        using var state = new TempDir();
        return new OptionNormalizer(new NfsBackend(settings, state.Path, new LinuxMounter(), TimeProvider.System, NullLogger<NfsBackend>.Instance));
    }
}
