using Csvol.Backends;

namespace Csvol.Tests.Backends;

public sealed class VolumeOptionSpecTests
{
    [Theory]
    [InlineData("", "true")]
    [InlineData("true", "true")]
    [InlineData("YES", "true")]
    [InlineData("off", "false")]
    [InlineData("0", "false")]
    public void Flag_Spellings_Normalised(string raw, string expected) =>
        Assert.Equal(expected, VolumeOptionSpec.Flag("noexec", "").Normalize(raw).Value);

    [Fact]
    public void Flag_Nonsense_SaysWhatIsValid() =>
        Assert.Equal("true or false (or no value, meaning true)", VolumeOptionSpec.Flag("noexec", "").Normalize("maybe").Expected);

    [Theory]
    [InlineData("0", "0")]
    [InlineData("999", "999")]
    [InlineData(" 1000 ", "1000")]
    [InlineData("4294967294", "4294967294")]
    public void Id_Numbers_Accepted(string raw, string expected) =>
        Assert.Equal(expected, VolumeOptionSpec.Id("uid", "").Normalize(raw).Value);

    [Theory]
    [InlineData("-1")]
    [InlineData("4294967295")]
    [InlineData("root")]
    [InlineData("+5")]
    [InlineData("")]
    public void Id_NotAnId_Refused(string raw) =>
        Assert.Equal("a numeric ID from 0 to 4294967294", VolumeOptionSpec.Id("uid", "").Normalize(raw).Expected);

    [Theory]
    [InlineData("750", "0750")]
    [InlineData("0750", "0750")]
    [InlineData("1777", "1777")]
    [InlineData("7", "0007")]
    [InlineData("07777", "7777")]
    public void OctalMode_Forms_CanonicalFourDigits(string raw, string expected) =>
        Assert.Equal(expected, VolumeOptionSpec.OctalMode("mode", "").Normalize(raw).Value);

    [Theory]
    [InlineData("789")]
    [InlineData("17777")]
    [InlineData("rwx")]
    [InlineData("")]
    public void OctalMode_Invalid_Refused(string raw) =>
        Assert.Null(VolumeOptionSpec.OctalMode("mode", "").Normalize(raw).Value);

    [Theory]
    [InlineData("65536", 65536L)]
    [InlineData("512k", 512L * 1024)]
    [InlineData("64M", 64L * 1024 * 1024)]
    [InlineData("1g", 1L << 30)]
    [InlineData("2gb", 2L << 30)]
    [InlineData("1t", 1L << 40)]
    public void ParseBytes_Suffixes_PowersOf1024(string raw, long expected) =>
        Assert.Equal(expected, VolumeOptionSpec.ParseBytes(raw));

    [Theory]
    [InlineData("0")]
    [InlineData("-5m")]
    [InlineData("1.5g")]
    [InlineData("lots")]
    [InlineData("99999999999999999999")]
    [InlineData("9000000000000000t")]
    public void ByteSize_NotAPositiveSize_Refused(string raw) =>
        Assert.Equal("a positive size such as 65536, 512k, 64m or 1g", VolumeOptionSpec.ByteSize("size", "").Normalize(raw).Expected);

    [Fact]
    public void Choice_CaseInsensitive_LowerCased()
    {
        var spec = VolumeOptionSpec.Choice("type", "", "dir", "dir", "tmpfs");

        Assert.Equal("tmpfs", spec.Normalize("TmpFS").Value);
        Assert.Equal("one of dir, tmpfs", spec.Normalize("nfs").Expected);
        Assert.Equal("dir", spec.Default);
    }
}
