using Csvol.Volumes;

namespace Csvol.Tests.Volumes;

public sealed class VolumeNameTests
{
    [Theory]
    [InlineData("v1")]
    [InlineData("0a")]
    [InlineData("data.db-1_x")]
    [InlineData("a..")]
    [InlineData("3f1e0c6d2b7a4e5f9c8d1b2a3e4f5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e")]
    public void Check_DockersRule_Accepted(string name) => Assert.Null(VolumeName.Check(name));

    [Theory]
    [InlineData(null, "volume name is missing")]
    [InlineData("", "volume name is missing")]
    [InlineData("a", "(1 characters)")]
    [InlineData(".x", "invalid volume name \".x\"")]
    [InlineData("-x", "invalid volume name")]
    [InlineData("_x", "invalid volume name")]
    [InlineData("..", "invalid volume name")]
    [InlineData("a/b", "invalid volume name")]
    [InlineData("a\0b", "invalid volume name \"a?b\"")]
    [InlineData("a b", "invalid volume name")]
    [InlineData("é1", "invalid volume name")]
    public void Check_OutsideTheRule_ReasonGiven(string? name, string expected)
    {
        var reason = VolumeName.Check(name);

        Assert.NotNull(reason);
        Assert.Contains(expected, reason, StringComparison.Ordinal);
        Assert.EndsWith("a volume name is 2 to 128 characters from [a-zA-Z0-9_.-] and starts with a letter or digit", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_LengthLimit_128AcceptedAnd129Refused()
    {
        Assert.Null(VolumeName.Check(new string('a', VolumeName.MaxLength)));
        Assert.Contains("(129 characters)", VolumeName.Check(new string('a', VolumeName.MaxLength + 1)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Invalid_ThrowsVolumeExceptionWithReason()
    {
        var ex = Assert.Throws<VolumeException>(() => VolumeName.Validate("../etc"));

        Assert.StartsWith("invalid volume name \"../etc\"", ex.Message, StringComparison.Ordinal);
    }
}
