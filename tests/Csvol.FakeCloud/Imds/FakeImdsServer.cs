using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Csvol.FakeCloud.Imds;

/// <summary>
/// IMDSv2 on 127.0.0.1: <c>PUT /latest/api/token</c> with <c>X-aws-ec2-metadata-token-ttl-seconds</c> (1–21600)
/// gives a token; every GET needs it in <c>X-aws-ec2-metadata-token</c>, else 401, as with
/// <c>HttpTokens=required</c>.
/// </summary>
public sealed class FakeImdsServer : IAsyncDisposable
{
    private const string TtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
    private const string TokenHeader = "X-aws-ec2-metadata-token";
    private readonly WebApplication _app;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private int _disposed;

    private FakeImdsServer(WebApplication app, FakeImdsOptions options, TimeProvider time)
    {
        _app = app;
        Options = options;
        _time = time;
    }

    /// <summary>The base address without a trailing slash (the AWS SDK's endpoint variable needs it so).</summary>
    public Uri BaseUri { get; private set; } = null!;

    public FakeImdsOptions Options { get; }

    public static async Task<FakeImdsServer> StartAsync(FakeImdsOptions? options = null, TimeProvider? time = null)
    {
        var app = LoopbackApp.Create();
        var server = new FakeImdsServer(app, options ?? new FakeImdsOptions(), time ?? TimeProvider.System);
        server.BaseUri = new Uri(await LoopbackApp.StartAsync(app, server.HandleAsync));
        return server;
    }

    /// <summary>Stops answering (a test's "IMDS is down"); a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.Path == "/latest/api/token")
        {
            return HttpMethods.IsPut(request.Method) ? IssueToken(context) : Answer(context, 405, "");
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            return Answer(context, 405, "");
        }

        if (!request.Headers.TryGetValue(TokenHeader, out var token)
            || !_tokens.TryGetValue(token.ToString(), out var expires)
            || expires <= _time.GetUtcNow())
        {
            return Answer(context, 401, "");
        }

        return request.Path.Value switch
        {
            "/latest/meta-data/instance-id" => Answer(context, 200, Options.InstanceId),
            "/latest/meta-data/placement/availability-zone" => Answer(context, 200, Options.AvailabilityZone),
            "/latest/meta-data/placement/region" => Answer(context, 200, Options.Region),
            "/latest/dynamic/instance-identity/document" => Answer(context, 200, IdentityDocument(), "application/json"),
            _ => Answer(context, 404, ""),
        };
    }

    private Task IssueToken(HttpContext context)
    {
        if (!int.TryParse(context.Request.Headers[TtlHeader], NumberStyles.None, CultureInfo.InvariantCulture, out var ttl) || ttl is < 1 or > 21600)
        {
            return Answer(context, 400, "");
        }

        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
        _tokens[token] = _time.GetUtcNow().AddSeconds(ttl);
        context.Response.Headers[TtlHeader] = ttl.ToString(CultureInfo.InvariantCulture);
        return Answer(context, 200, token);
    }

    private string IdentityDocument() => JsonSerializer.Serialize(
        new Dictionary<string, string>
        {
            ["accountId"] = Ec2.FakeEc2Server.AccountId,
            ["architecture"] = "x86_64",
            ["availabilityZone"] = Options.AvailabilityZone,
            ["imageId"] = "ami-0fake0000000000000",
            ["instanceId"] = Options.InstanceId,
            ["instanceType"] = "t3.medium",
            ["privateIp"] = "10.0.0.10",
            ["region"] = Options.Region,
            ["version"] = "2017-09-30",
        },
        IdentityJson.Default.DictionaryStringString);

    private static async Task Answer(HttpContext context, int status, string body, string contentType = "text/plain")
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }
}
