using Csvol.Backends;
using Moq;

namespace Csvol.Tests.Backends;

public sealed class BackendRegistryTests
{
    private static BackendRegistration Named(string name) => new(name, _ => Mock.Of<IVolumeBackend>());

    [Fact]
    public void Get_UnknownName_MessageListsValidNames()
    {
        var sut = new BackendRegistry([Named("local"), Named("ebs")]);

        var ex = Assert.Throws<InvalidOperationException>(() => sut.Get("s3"));

        Assert.Equal("CSVOL_BACKEND=\"s3\" is not a storage backend csvol has; valid values: ebs, local", ex.Message);
    }

    [Fact]
    public void Constructor_DuplicateName_Refused()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new BackendRegistry([Named("local"), Named("local")]));

        Assert.Equal("two storage backends are registered as \"local\"", ex.Message);
    }

    [Fact]
    public void Get_KnownName_ThatRegistration() =>
        Assert.Equal("ebs", new BackendRegistry([Named("local"), Named("ebs")]).Get("ebs").Name);
}
