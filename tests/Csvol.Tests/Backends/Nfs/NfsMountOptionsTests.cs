using Csvol.Backends.Nfs;

namespace Csvol.Tests.Backends.Nfs;

public sealed class NfsMountOptionsTests
{
    [Theory]
    [InlineData("vers=4.1,hard,noatime", "vers=4.1,hard,noatime")]
    [InlineData("nfsvers=3,nolock,port=2049", "vers=3,nolock,port=2049")]
    [InlineData("soft,timeo=50,retrans=2,actimeo=3", "soft,timeo=50,retrans=2,actimeo=3")]
    [InlineData("hard,soft", "soft")]
    [InlineData(" rsize=1048576,wsize=1048576,nconnect=4,sec=krb5i:sys ", "rsize=1048576,wsize=1048576,nconnect=4,sec=krb5i:sys")]
    public void Normalize_AllowedOptions_CanonicalForm(string raw, string expected)
    {
        var sut = NfsMountOptions.Normalize(raw);

        Assert.Equal(expected, sut.Value);
    }

    [Theory]
    [InlineData("addr=10.0.0.1", "\"addr\" is not one")]
    [InlineData("vers=4.1,context=system_u:object_r:nfs_t", "\"context\" is not one")]
    [InlineData("sec=krb5,krb5i", "\"krb5i\" is not one")]
    [InlineData("port=2049=1", "one '='")]
    [InlineData("=4", "one '='")]
    [InlineData("vers=4.1\nro", "newlines")]
    [InlineData("vers=4.1, ro", "spaces")]
    [InlineData("vers=4.1,,ro", "none empty")]
    [InlineData("port=70000", "a port from 0 to 65535")]
    [InlineData("vers=5", "3, 4, 4.0, 4.1 or 4.2")]
    [InlineData("timeo", "a value for \"timeo\"")]
    [InlineData("hard=1", "\"hard\" without a value")]
    public void Normalize_RefusedOptions_SaysWhatIsWrong(string raw, string expected)
    {
        var sut = NfsMountOptions.Normalize(raw);

        Assert.Null(sut.Value);
        Assert.Contains(expected, sut.Expected, StringComparison.Ordinal);
    }

    [Fact]
    public void Effective_Defaults_HardAndNoRetry()
    {
        var sut = NfsMountOptions.Effective(null, null);

        Assert.Equal(["hard", "retry=0"], sut);
    }

    [Fact]
    public void Effective_VolumeAfterPluginWide_LaterOptionOfAGroupWins()
    {
        var sut = NfsMountOptions.Effective("vers=4.1,port=20490,ro", "soft,rw,retry=1", "nosuid");

        Assert.Equal(["soft", "retry=1", "vers=4.1", "port=20490", "rw", "nosuid"], sut);
    }

    [Fact]
    public void Effective_ConfinedExtras_ReplaceReadOnlyAndExec()
    {
        var sut = NfsMountOptions.Effective(null, "ro,exec", "rw", "nosuid", "nodev", "noexec");

        Assert.Contains("rw", sut);
        Assert.DoesNotContain("ro", sut);
        Assert.Contains("noexec", sut);
        Assert.DoesNotContain("exec", sut);
    }
}
