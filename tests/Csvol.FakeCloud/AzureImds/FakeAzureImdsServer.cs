using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Csvol.FakeCloud.AzureImds;

/// <summary>
/// Azure's instance metadata service on http://127.0.0.1, as a VM sees it at 169.254.169.254:
/// <c>GET /metadata/instance?api-version=…</c> (and <c>/metadata/instance/compute</c>) and the managed
/// identity token <c>GET /metadata/identity/oauth2/token?api-version=…&amp;resource=…</c>. Both need
/// the header <c>Metadata: true</c> and an api-version, and refuse a request that came through a proxy
/// (<c>X-Forwarded-For</c>), as the real one does.
/// </summary>
public sealed class FakeAzureImdsServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TimeProvider _time;
    private readonly ConcurrentQueue<string> _tokenResources = new();

    private FakeAzureImdsServer(WebApplication app, FakeAzureImdsOptions options, TimeProvider time)
    {
        _app = app;
        Options = options;
        _time = time;
    }

    /// <summary><c>http://127.0.0.1:PORT</c>, no trailing slash: the value for <c>AZURE_POD_IDENTITY_AUTHORITY_HOST</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    public FakeAzureImdsOptions Options { get; }

    /// <summary>The <c>resource</c> of every token request answered, in order.</summary>
    public IReadOnlyList<string> TokenResources => [.. _tokenResources];

    public static async Task<FakeAzureImdsServer> StartAsync(FakeAzureImdsOptions? options = null, TimeProvider? time = null)
    {
        var app = LoopbackApp.Create();
        var server = new FakeAzureImdsServer(app, options ?? new FakeAzureImdsOptions(), time ?? TimeProvider.System);
        server.BaseUri = new Uri(await LoopbackApp.StartAsync(app, server.HandleAsync));
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method))
        {
            return AnswerAsync(context, 405, Error("Method not allowed"));
        }

        if (request.Headers.ContainsKey("X-Forwarded-For"))
        {
            return AnswerAsync(context, 400, Error("Bad request. Request must not come through a proxy (X-Forwarded-For)."));
        }

        if (!request.Headers.TryGetValue("Metadata", out var metadata) || !metadata.ToString().Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            return AnswerAsync(context, 400, Error("Bad request. Required metadata header not specified"));
        }

        if (string.IsNullOrEmpty(request.Query["api-version"]))
        {
            return AnswerAsync(context, 400, Error("Bad request. api-version was not specified in the request"));
        }

        return request.Path.Value switch
        {
            "/metadata/instance" => AnswerAsync(context, 200, new JsonObject { ["compute"] = Compute(), ["network"] = Network() }),
            "/metadata/instance/compute" => AnswerAsync(context, 200, Compute()),
            "/metadata/identity/oauth2/token" => TokenAsync(context),
            _ => AnswerAsync(context, 404, Error("Not found")),
        };
    }

    private Task TokenAsync(HttpContext context)
    {
        var resource = context.Request.Query["resource"].ToString();
        if (string.IsNullOrEmpty(resource))
        {
            return AnswerAsync(context, 400, new JsonObject { ["error"] = "invalid_request", ["error_description"] = "Required query variable 'resource' is missing" });
        }

        _tokenResources.Enqueue(resource);
        var now = _time.GetUtcNow();
        string Seconds(DateTimeOffset t) => t.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        // IMDS writes the numbers as strings.
        return AnswerAsync(context, 200, new JsonObject
        {
            ["access_token"] = Options.AccessToken,
            ["client_id"] = "00000000-0000-4000-8000-0000000c11e7",
            ["expires_in"] = ((long)Options.TokenLifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            ["expires_on"] = Seconds(now + Options.TokenLifetime),
            ["ext_expires_in"] = ((long)Options.TokenLifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            ["not_before"] = Seconds(now),
            ["resource"] = resource,
            ["token_type"] = "Bearer",
        });
    }

    private JsonObject Compute() => new()
    {
        ["azEnvironment"] = "AzurePublicCloud",
        ["location"] = Options.Location,
        ["name"] = Options.Name,
        ["osType"] = "Linux",
        ["resourceGroupName"] = Options.ResourceGroupName,
        ["resourceId"] = Options.ResourceId,
        ["subscriptionId"] = Options.SubscriptionId,
        ["vmId"] = Options.VmId,
        ["vmSize"] = Options.VmSize,
        ["zone"] = Options.Zone,
    };

    private static JsonObject Network() => new()
    {
        ["interface"] = new JsonArray(new JsonObject
        {
            ["ipv4"] = new JsonObject { ["ipAddress"] = new JsonArray(new JsonObject { ["privateIpAddress"] = "10.0.0.4", ["publicIpAddress"] = "" }) },
            ["macAddress"] = "000D3A000001",
        }),
    };

    private static JsonObject Error(string message) => new() { ["error"] = message };

    private static async Task AnswerAsync(HttpContext context, int status, JsonNode body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }
}
