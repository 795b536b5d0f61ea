using Csvol.Backends.Disks;
using Csvol.Backends.Ebs;
using Csvol.Mounting;
using Csvol.Volumes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using Polly;

namespace Csvol.Tests.Backends.Ebs;

/// <summary>Options are checked before any EC2 call, through the core's normaliser, with the Err a user sees.</summary>
public sealed class EbsOptionsTests : IDisposable
{
    private readonly EbsBackend _backend;
    private readonly OptionNormalizer _sut;

    public EbsOptionsTests()
    {
        _backend = new EbsBackend(
            new EbsSettings { ExtraTags = [new("team", "storage"), new("env", "test")] },
            ResiliencePipeline.Empty, Mock.Of<IMounter>(), new FormatOnce(Mock.Of<IMounter>(), NullLogger<FormatOnce>.Instance),
            TimeProvider.System, NullLogger<EbsBackend>.Instance);
        _sut = new OptionNormalizer(_backend);
    }

    public void Dispose() => _backend.Dispose();

    [Fact]
    public void Normalize_SizeOnly_DefaultsFilled()
    {
        var options = _sut.Normalize(new Dictionary<string, string> { ["size"] = "10G" }).Stored;

        Assert.Equal("encrypted=true&fsType=ext4&size=10&type=gp3", DiskTags.Encode(options));
    }

    [Theory]
    [InlineData("type=gp3", "option \"size\" (GiB) is needed unless \"snapshotId\" is given")]
    [InlineData("size=0", "invalid value \"0\" for option \"size\": expected a whole number of GiB such as 10 or 10g")]
    [InlineData("size=20000", "size=20000 GiB is outside what type=gp3 allows: 1-16384 GiB")]
    [InlineData("size=100;type=st1", "size=100 GiB is outside what type=st1 allows: 125-16384 GiB")]
    [InlineData("size=2000;type=standard", "size=2000 GiB is outside what type=standard allows: 1-1024 GiB")]
    [InlineData("size=2;type=io1;iops=100", "size=2 GiB is outside what type=io1 allows: 4-16384 GiB")]
    [InlineData("size=10;type=io2", "type=io2 needs option \"iops\" (100-64000)")]
    [InlineData("size=10;type=gp2;iops=3000", "option \"iops\" applies only to type=gp3, io1 or io2, not type=gp2")]
    [InlineData("size=10;iops=2000", "iops=2000 is outside what type=gp3 allows: 3000-16000")]
    [InlineData("size=10;type=io1;iops=70000", "iops=70000 is outside what type=io1 allows: 100-64000")]
    [InlineData("size=10;type=io1;iops=100;throughput=200", "option \"throughput\" applies only to type=gp3, not type=io1")]
    [InlineData("size=10;throughput=1001", "throughput=1001 MiB/s is outside what gp3 allows: 125-1000")]
    [InlineData("size=10;encrypted=false;kmsKeyId=alias/x", "option \"kmsKeyId\" needs encrypted=true")]
    [InlineData("size=10;type=gp4", "invalid value \"gp4\" for option \"type\": expected one of gp3, gp2, io1, io2, st1, sc1, standard")]
    [InlineData("size=10;fsType=btrfs", "invalid value \"btrfs\" for option \"fsType\": expected one of ext4, xfs")]
    [InlineData("size=10;snapshotId=vol-1", "invalid value \"vol-1\" for option \"snapshotId\": expected a snapshot id such as snap-0123456789abcdef0")]
    [InlineData("size=10;availabilityZone=moon", "invalid value \"moon\" for option \"availabilityZone\": expected an availability zone such as us-east-1a")]
    public void Normalize_InvalidCombination_ErrSaysWhatIsValid(string given, string err)
    {
        var ex = Assert.Throws<VolumeException>(() => _sut.Normalize(Parse(given)));

        Assert.Equal(err, ex.Message);
    }

    [Theory]
    [InlineData("aws:owner=me", "tag keys that do not start with \"aws:\" (reserved by AWS): \"aws:owner\"")]
    [InlineData("Name=x", "tag keys other than \"Name\" and \"csvol/*\" (csvol's own): \"Name\"")]
    [InlineData("csvol/name=x", "tag keys other than \"Name\" and \"csvol/*\" (csvol's own): \"csvol/name\"")]
    [InlineData("a=1,a=2", "each tag key once (\"a\" is repeated)")]
    public void Normalize_ReservedOrRepeatedTag_Refused(string tags, string expected)
    {
        var ex = Assert.Throws<VolumeException>(() => _sut.Normalize(new Dictionary<string, string> { ["size"] = "1", ["tags"] = tags }));

        Assert.Equal($"invalid value \"{tags}\" for option \"tags\": expected {expected}", ex.Message);
    }

    [Fact]
    public void Normalize_TagKeyOrValueTooLong_Refused()
    {
        var longKey = Assert.Throws<VolumeException>(() => _sut.Normalize(new Dictionary<string, string> { ["size"] = "1", ["tags"] = new string('k', 129) + "=v" }));
        var longValue = Assert.Throws<VolumeException>(() => _sut.Normalize(new Dictionary<string, string> { ["size"] = "1", ["tags"] = "k=" + new string('v', 257) }));

        Assert.Contains("tag keys of 1-128 characters", longKey.Message, StringComparison.Ordinal);
        Assert.Contains("tag values of at most 256 characters (the value of \"k\" has 257)", longValue.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_TooManyTagsWithCsvolsAndExtraOnes_Refused()
    {
        // 6 of csvol's own, 2 extra from the settings, and the options tag, which these tags push into two chunks.
        var fits = string.Join(',', Enumerable.Range(0, 40).Select(i => $"k{i}=v"));
        var tooMany = string.Join(',', Enumerable.Range(0, 41).Select(i => $"k{i}=v"));

        _ = _sut.Normalize(new Dictionary<string, string> { ["size"] = "1", ["tags"] = fits });
        var ex = Assert.Throws<VolumeException>(() => _sut.Normalize(new Dictionary<string, string> { ["size"] = "1", ["tags"] = tooMany }));

        Assert.Equal(
            "the volume would carry 51 tags (41 from option \"tags\", the rest csvol's own and CSVOL_EXTRA_TAGS); EC2 allows at most 50",
            ex.Message);
    }

    [Fact]
    public void OptionsTag_LongerThanATagValue_SplitAndReadBack()
    {
        var options = _sut.Normalize(new Dictionary<string, string>
        {
            ["size"] = "10", ["tags"] = "a=" + new string('x', 200) + ",b=y z&w", ["kmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/abc",
        }).Stored;

        var chunks = EbsOptions.ToTagValues(options);

        Assert.Equal(2, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Length <= 256));
        Assert.Equal(options, DiskTags.Decode(string.Concat(chunks)));
    }

    [Fact]
    public void Settings_BadExtraTags_StartUpFailsNamingTheVariable()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CSVOL_EXTRA_TAGS"] = "aws:x=1" }).Build();

        var ex = Assert.Throws<InvalidOperationException>(() => (object)EbsSettings.From(configuration));

        Assert.StartsWith("CSVOL_EXTRA_TAGS must be", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClientToken_SameClusterAndName_SameSixtyFourHexDigits()
    {
        var settings = new EbsSettings { Cluster = "prod" };

        Assert.Equal(settings.ClientToken("db"), settings.ClientToken("db"));
        Assert.NotEqual(settings.ClientToken("db"), new EbsSettings().ClientToken("db"));
        Assert.Matches("^[0-9a-f]{64}$", settings.ClientToken("db"));
        Assert.Equal(settings.ClientToken("db", 0), settings.ClientToken("db"));
        Assert.Equal(3, new[] { 0, 1, 2 }.Select(g => settings.ClientToken("db", g)).Distinct().Count());
        Assert.Equal(settings.ClientToken("db", 2), new EbsSettings { Cluster = "prod" }.ClientToken("db", 2));
    }

    private static Dictionary<string, string> Parse(string given) =>
        given.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
}
