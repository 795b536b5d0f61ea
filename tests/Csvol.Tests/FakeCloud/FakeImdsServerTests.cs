using System.Net;
using System.Text.Json;
using Csvol.FakeCloud.Imds;
using Microsoft.Extensions.Time.Testing;

namespace Csvol.Tests.FakeCloud;

public sealed class FakeImdsServerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
    private FakeImdsServer _sut = null!;

    public async Task InitializeAsync() =>
        _sut = await FakeImdsServer.StartAsync(new FakeImdsOptions { InstanceId = "i-0123456789abcdef0", AvailabilityZone = "eu-west-1b" }, _time);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _sut.DisposeAsync();
    }

    [Fact]
    public async Task Get_WithToken_AnswersInstanceZoneRegionAndDocument()
    {
        var token = await TokenAsync(ttlSeconds: "21600");

        Assert.Equal("i-0123456789abcdef0", await GetAsync("/latest/meta-data/instance-id", token));
        Assert.Equal("eu-west-1b", await GetAsync("/latest/meta-data/placement/availability-zone", token));
        Assert.Equal("eu-west-1", await GetAsync("/latest/meta-data/placement/region", token));
        using var document = JsonDocument.Parse(await GetAsync("/latest/dynamic/instance-identity/document", token));
        Assert.Equal("i-0123456789abcdef0", document.RootElement.GetProperty("instanceId").GetString());
        Assert.Equal("eu-west-1", document.RootElement.GetProperty("region").GetString());
    }

    [Fact]
    public async Task Get_WithoutOrExpiredToken_Unauthorized()
    {
        var token = await TokenAsync(ttlSeconds: "60");
        using var without = await _http.GetAsync(new Uri(_sut.BaseUri, "/latest/meta-data/instance-id"));
        _time.Advance(TimeSpan.FromSeconds(61));
        using var expired = await SendAsync(HttpMethod.Get, "/latest/meta-data/instance-id", ("X-aws-ec2-metadata-token", token));

        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
    }

    [Fact]
    public async Task PutToken_WithoutTtlHeader_BadRequest()
    {
        using var answer = await SendAsync(HttpMethod.Put, "/latest/api/token");

        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
    }

    private async Task<string> TokenAsync(string ttlSeconds)
    {
        using var answer = await SendAsync(HttpMethod.Put, "/latest/api/token", ("X-aws-ec2-metadata-token-ttl-seconds", ttlSeconds));
        _ = answer.EnsureSuccessStatusCode();
        return await answer.Content.ReadAsStringAsync();
    }

    private async Task<string> GetAsync(string path, string token)
    {
        using var answer = await SendAsync(HttpMethod.Get, path, ("X-aws-ec2-metadata-token", token));
        _ = answer.EnsureSuccessStatusCode();
        return await answer.Content.ReadAsStringAsync();
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, new Uri(_sut.BaseUri, path));
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        return await _http.SendAsync(request);
    }
}
