using System.Net;
using System.Text.Json;
using Azure.Core;
using Azure.Identity;
using Azure.ResourceManager.Resources;
using Csvol.FakeCloud.Arm;
using Csvol.FakeCloud.AzureImds;

namespace Csvol.Tests.FakeCloud;

public sealed class FakeAzureImdsServerTests : IAsyncLifetime
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
    private FakeAzureImdsServer _sut = null!;

    public async Task InitializeAsync() =>
        _sut = await FakeAzureImdsServer.StartAsync(new FakeAzureImdsOptions { Name = "vm-b", ResourceGroupName = "rg-two", Zone = "2" });

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _sut.DisposeAsync();
    }

    [Fact]
    public async Task GetInstance_WithMetadataHeader_AnswersTheVmsIdentity()
    {
        using var answer = await SendAsync("/metadata/instance?api-version=2021-02-01", metadata: true);
        using var document = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        var compute = document.RootElement.GetProperty("compute");

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("vm-b", compute.GetProperty("name").GetString());
        Assert.Equal("rg-two", compute.GetProperty("resourceGroupName").GetString());
        Assert.Equal("2", compute.GetProperty("zone").GetString());
        Assert.Equal(_sut.Options.SubscriptionId, compute.GetProperty("subscriptionId").GetString());
        Assert.Equal(_sut.Options.VmId, compute.GetProperty("vmId").GetString());
        Assert.Equal("westeurope", compute.GetProperty("location").GetString());
    }

    [Fact]
    public async Task GetInstance_WithoutMetadataHeaderOrApiVersion_BadRequest()
    {
        using var without = await SendAsync("/metadata/instance?api-version=2021-02-01", metadata: false);
        using var noVersion = await SendAsync("/metadata/instance", metadata: true);

        Assert.Equal(HttpStatusCode.BadRequest, without.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noVersion.StatusCode);
    }

    [Fact]
    public async Task GetToken_ForArm_BearerTokenWithNumbersAsStrings()
    {
        using var answer = await SendAsync("/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F", metadata: true);
        using var document = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        var token = document.RootElement;

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(_sut.Options.AccessToken, token.GetProperty("access_token").GetString());
        Assert.Equal("Bearer", token.GetProperty("token_type").GetString());
        Assert.True(long.Parse(token.GetProperty("expires_on").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal(["https://management.azure.com/"], _sut.TokenResources);
    }

    /// <summary>
    /// Azure.Identity's ManagedIdentityCredential (through MSAL) asks IMDS at the host in
    /// AZURE_POD_IDENTITY_AUTHORITY_HOST; its token then opens the fake ARM, which accepts no other.
    /// MSAL reads the variable and caches managed-identity tokens once per process, so when another
    /// test (the Azure disk backend's) got a token first, it comes from that test's fake IMDS (same
    /// default token) and this one sees no request: which fake served it is not asserted.
    /// </summary>
    [Fact]
    public async Task ManagedIdentityCredential_PointedAtFake_TokenOpensTheFakeArm()
    {
        await using var arm = await FakeArmServer.StartAsync();
        arm.AddResourceGroup("rg-two");
        arm.RequiredToken = _sut.Options.AccessToken;
        var previous = Environment.GetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST");
        Environment.SetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST", _sut.BaseUri.ToString().TrimEnd('/'));
        try
        {
            var credential = new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned);
            var token = await credential.GetTokenAsync(new TokenRequestContext(["https://management.azure.com/.default"]), CancellationToken.None);
            var client = ArmClients.For(arm.BaseUri, arm.SubscriptionId, arm.CertificateAuthority, credential);
            var group = (await client.GetResourceGroupResource(ResourceGroupResource.CreateResourceIdentifier(arm.SubscriptionId, "rg-two")).GetAsync()).Value;
            var refused = await Assert.ThrowsAsync<Azure.RequestFailedException>(() =>
                ArmClients.For(arm.BaseUri, arm.SubscriptionId, arm.CertificateAuthority).GetResourceGroupResource(
                    ResourceGroupResource.CreateResourceIdentifier(arm.SubscriptionId, "rg-two")).GetAsync());

            Assert.Equal(_sut.Options.AccessToken, token.Token);
            Assert.Equal("rg-two", group.Data.Name);
            Assert.Equal(401, refused.Status);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AZURE_POD_IDENTITY_AUTHORITY_HOST", previous);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(string pathAndQuery, bool metadata)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_sut.BaseUri, pathAndQuery));
        if (metadata)
        {
            request.Headers.Add("Metadata", "true");
        }

        return await _http.SendAsync(request);
    }
}
