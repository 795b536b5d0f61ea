using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Csvol.FakeCloud.Ec2;

/// <summary>
/// EC2's Query API (Version 2016-11-15) on 127.0.0.1 for the AWS SDK, with real block devices behind
/// attached volumes (see README.md) and faults a test can inject. Dispose releases every loop device.
/// </summary>
public sealed class FakeEc2Server : IAsyncDisposable
{
    public const string AccountId = "123456789012";

    private readonly WebApplication _app;
    private readonly Ec2Cloud _cloud;
    private readonly FaultQueue<Ec2Error> _faults = new();
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    private FakeEc2Server(WebApplication app, Ec2Cloud cloud)
    {
        _app = app;
        _cloud = cloud;
    }

    /// <summary>Where the SDK's <c>ServiceURL</c> points, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    public FakeEc2Options Options { get; private set; } = null!;

    /// <summary>State changes (and block-device setup) that failed in the background; a test should expect none.</summary>
    public IReadOnlyList<Exception> BackgroundErrors => _cloud.BackgroundErrors;

    public TimeSpan CreateDelay { get => _cloud.CreateDelay; set => _cloud.CreateDelay = value; }

    public TimeSpan AttachDelay { get => _cloud.AttachDelay; set => _cloud.AttachDelay = value; }

    public TimeSpan DetachDelay { get => _cloud.DetachDelay; set => _cloud.DetachDelay = value; }

    /// <summary>
    /// For benchmarks: told of each request once its answer is written, with its action ("" if unreadable) and the
    /// <see cref="Stopwatch"/> timestamps of its arrival and of that moment. Called on the request's thread; keep it cheap.
    /// </summary>
    public Action<string, long, long>? Served { get; set; }

    /// <summary>For benchmarks: told when an attachment turns "attached", with the volume id and a <see cref="Stopwatch"/> timestamp.</summary>
    public Action<string, long>? AttachCompleted { get => _cloud.AttachCompleted; set => _cloud.AttachCompleted = value; }

    /// <summary>Attaches from now on look like a Xen instance's: no by-id link and no serial, only the device name and devtype "vbd".</summary>
    public bool XenDevices { get => _cloud.XenDevices; set => _cloud.XenDevices = value; }

    public static async Task<FakeEc2Server> StartAsync(FakeEc2Options? options = null, TimeProvider? time = null)
    {
        options ??= new FakeEc2Options();
        var app = LoopbackApp.Create();
        var server = new FakeEc2Server(app, new Ec2Cloud(options, time ?? TimeProvider.System)) { Options = options };
        server.BaseUri = new Uri(await LoopbackApp.StartAsync(app, server.HandleAsync) + "/");
        return server;
    }

    /// <summary>Adds (or replaces) an instance volumes can attach to.</summary>
    public void AddInstance(string instanceId, string availabilityZone, FakeInstanceState state = FakeInstanceState.Running) =>
        _cloud.SetInstance(instanceId, availabilityZone, state);

    public void SetInstanceState(string instanceId, FakeInstanceState state) => _cloud.SetInstanceState(instanceId, state);

    /// <summary>The next <paramref name="count"/> calls of <paramref name="action"/> get RequestLimitExceeded (503).</summary>
    public void ThrottleNext(string action, int count) =>
        _faults.Add(action, count, () => new Ec2Error("RequestLimitExceeded", "Request limit exceeded.", 503));

    /// <summary>The next <paramref name="count"/> calls of <paramref name="action"/> get InternalError (500).</summary>
    public void FailNext(string action, int count) =>
        _faults.Add(action, count, () => new Ec2Error("InternalError", "An internal error has occurred.", 500));

    /// <summary>The next <paramref name="count"/> calls of <paramref name="action"/> get the error <paramref name="code"/> (e.g. UnauthorizedOperation, 403).</summary>
    public void RefuseNext(string action, int count, string code, string message, int status = 400) =>
        _faults.Add(action, count, () => new Ec2Error(code, message, status));

    /// <summary>Attachments stay "attaching" until <see cref="ReleaseAttach"/> (calls still answer).</summary>
    public void StickAttach() => _cloud.AttachGate.Close();

    public void ReleaseAttach() => _cloud.AttachGate.Open();

    /// <summary>Detachments stay "detaching" until <see cref="ReleaseDetach"/>.</summary>
    public void StickDetach() => _cloud.DetachGate.Close();

    public void ReleaseDetach() => _cloud.DetachGate.Open();

    public void ClearFaults() => _faults.Clear();

    /// <summary>How many requests of <paramref name="action"/> arrived, faulted ones included.</summary>
    public int Calls(string action) => _calls.GetValueOrDefault(action);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _cloud.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrived = Stopwatch.GetTimestamp();
        var action = "";
        var requestId = Guid.NewGuid().ToString();
        string body;
        int status;
        try
        {
            if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.HasFormContentType)
            {
                throw new Ec2Error("InvalidRequest", "The fake EC2 takes only POST / with a form body (EC2 Query protocol).");
            }

            var request = new QueryRequest(await context.Request.ReadFormAsync(context.RequestAborted));
            action = request.Action;
            _ = _calls.AddOrUpdate(action, 1, (_, n) => n + 1);
            if (request.Get("Version") != "2016-11-15")
            {
                throw new Ec2Error("InvalidParameterValue", $"Version '{request.Get("Version")}' is not 2016-11-15.");
            }

            if (_faults.Take(request.Action) is { } fault)
            {
                throw fault;
            }

            body = await _cloud.HandleAsync(request, requestId, context.RequestAborted);
            status = StatusCodes.Status200OK;
        }
        catch (Ec2Error error)
        {
            body = Ec2Xml.Error(error, requestId);
            status = error.Status;
        }

        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/xml;charset=UTF-8";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
        Served?.Invoke(action, arrived, Stopwatch.GetTimestamp());
    }
}
