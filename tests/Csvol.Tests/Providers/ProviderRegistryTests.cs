using Csvol.Providers;
using Moq;

namespace Csvol.Tests.Providers;

public sealed class ProviderRegistryTests
{
    private static ProviderRegistration Named(string name) => new(name, _ => Mock.Of<IVolumeProvider>());

    [Fact]
    public void Get_UnknownName_MessageListsValidNames()
    {
        var sut = new ProviderRegistry([Named("local"), Named("ebs")]);

        var ex = Assert.Throws<InvalidOperationException>(() => sut.Get("s3"));

        Assert.Equal("CSVOL_PROVIDER=\"s3\" is not a storage backend csvol has; valid values: ebs, local", ex.Message);
    }

    [Fact]
    public void Constructor_DuplicateName_Refused()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new ProviderRegistry([Named("local"), Named("local")]));

        Assert.Equal("two storage backends are registered as \"local\"", ex.Message);
    }

    [Fact]
    public void Get_KnownName_ThatRegistration() =>
        Assert.Equal("ebs", new ProviderRegistry([Named("local"), Named("ebs")]).Get("ebs").Name);
}
