using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Csvol.Tests.Support;

/// <summary>Talks to a plugin the way dockerd does: HTTP/1.1 POSTs with JSON bodies over a Unix socket.</summary>
internal sealed class PluginClient : IDisposable
{
    private readonly HttpClient _http;

    public PluginClient(string socketPath)
        : this(new UnixDomainSocketEndPoint(socketPath), AddressFamily.Unix)
    {
    }

    /// <summary>A plugin reached over TCP: the NFS rig's guests relay their csvol socket to a loopback port.</summary>
    public PluginClient(int loopbackPort, TimeSpan timeout)
        : this(new IPEndPoint(IPAddress.Loopback, loopbackPort), AddressFamily.InterNetwork) => _http.Timeout = timeout;

    private PluginClient(EndPoint endpoint, AddressFamily family)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(family, SocketType.Stream, family == AddressFamily.Unix ? ProtocolType.Unspecified : ProtocolType.Tcp);
                try
                {
                    await socket.ConnectAsync(endpoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            MaxConnectionsPerServer = 64,
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://plugin"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task<PluginResponse> PostAsync(string endpoint, string? body = null, string method = "POST")
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), endpoint);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = null; // dockerd sends none
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new PluginResponse((int)response.StatusCode, response.Content.Headers.ContentType, text)
        {
            ContentLength = response.Content.Headers.ContentLength,
            Chunked = response.Headers.TransferEncodingChunked == true,
        };
    }

    public Task<PluginResponse> CallAsync(string endpoint, object body) =>
        PostAsync(endpoint, JsonSerializer.Serialize(body));

    public void Dispose() => _http.Dispose();
}

internal sealed record PluginResponse(int Status, MediaTypeHeaderValue? ContentType, string Body)
{
    public long? ContentLength { get; init; }

    public bool Chunked { get; init; }

    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string? Err => Json.TryGetProperty("Err", out var err) ? err.GetString() : null;

    public PluginResponse AssertOk()
    {
        Assert.True(Status == 200, $"expected 200, got {Status}: {Body}");
        Assert.Null(Err);
        return this;
    }
}
