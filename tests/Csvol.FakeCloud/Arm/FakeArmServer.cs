using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Csvol.FakeCloud.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Csvol.FakeCloud.Arm;

/// <summary>
/// Azure Resource Manager for Microsoft.Compute disks, snapshots and VMs on https://127.0.0.1 with a
/// certificate made for the run (pin <see cref="CertificateAuthority"/>), long-running operations as the
/// real service runs them, real block devices behind attached disks (see README.md) and faults a test
/// can inject. Dispose releases every loop device.
/// </summary>
public sealed class FakeArmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ArmCloud _cloud;
    private readonly RunCertificates _certificates;
    private readonly FaultQueue<ArmError> _faults = new();
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    private FakeArmServer(WebApplication app, ArmCloud cloud, RunCertificates certificates, FakeArmOptions options)
    {
        _app = app;
        _cloud = cloud;
        _certificates = certificates;
        Options = options;
    }

    /// <summary>The ARM endpoint, <c>https://127.0.0.1:PORT/</c>, for <c>ArmEnvironment</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    public FakeArmOptions Options { get; }

    /// <summary>The run's CA, public part: the only root a client should trust for <see cref="BaseUri"/>.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2 CertificateAuthority => _certificates.Authority;

    /// <summary><see cref="CertificateAuthority"/> in PEM, as a plugin's settings would carry it.</summary>
    public string CertificateAuthorityPem => _certificates.AuthorityPem;

    public string SubscriptionId => Options.SubscriptionId;

    /// <summary>Operations and block-device changes that failed; a test should expect none.</summary>
    public IReadOnlyList<Exception> BackgroundErrors => _cloud.BackgroundErrors;

    /// <inheritdoc cref="FakeArmOptions.InProgressPolls"/>
    public int InProgressPolls { get => _cloud.InProgressPolls; set => _cloud.InProgressPolls = value; }

    /// <inheritdoc cref="FakeArmOptions.PollRetryAfter"/>
    public TimeSpan? PollRetryAfter { get => _cloud.PollRetryAfter; set => _cloud.PollRetryAfter = value; }

    /// <inheritdoc cref="FakeArmOptions.OperationDelay"/>
    public TimeSpan OperationDelay { get => _cloud.OperationDelay; set => _cloud.OperationDelay = value; }

    /// <inheritdoc cref="FakeArmOptions.DeviceDelay"/>
    public TimeSpan DeviceDelay { get => _cloud.DeviceDelay; set => _cloud.DeviceDelay = value; }

    /// <inheritdoc cref="FakeArmOptions.PageSize"/>
    public int PageSize { get => _cloud.PageSize; set => _cloud.PageSize = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value)); }

    /// <summary>
    /// For benchmarks: told of each request once its answer is written, with its call name (<c>"{METHOD} {kind}"</c>, as
    /// <see cref="Calls"/> counts them) and the <see cref="System.Diagnostics.Stopwatch"/> timestamps of its arrival and
    /// of that moment. Called on the request's thread; keep it cheap.
    /// </summary>
    public Action<string, long, long>? Served { get; set; }

    /// <summary>
    /// For benchmarks: told when a long-running operation finishes (its change, block devices included, made, or it
    /// failed), with the operation's id and a <see cref="System.Diagnostics.Stopwatch"/> timestamp.
    /// </summary>
    public Action<string, long>? OperationCompleted { get => _cloud.OperationCompleted; set => _cloud.OperationCompleted = value; }

    /// <summary>Null (the default): any bearer token is accepted. Set: only this one, else 401 (a managed identity test sets IMDS's token).</summary>
    public string? RequiredToken { get; set; }

    public static async Task<FakeArmServer> StartAsync(FakeArmOptions? options = null, TimeProvider? time = null)
    {
        options ??= new FakeArmOptions();
        var certificates = RunCertificates.Create("csvol fake ARM");
        var app = LoopbackApp.Create(certificates.Server);
        var server = new FakeArmServer(app, new ArmCloud(options, time ?? TimeProvider.System), certificates, options);
        server.BaseUri = new Uri(await LoopbackApp.StartAsync(app, server.HandleAsync) + "/");
        return server;
    }

    public void AddResourceGroup(string name) => _cloud.AddResourceGroup(name, Options.Location);

    /// <summary>Adds a VM (and its resource group). Its devices go under <paramref name="deviceRoot"/>, by default <c>{DeviceRoot}/{name}</c>.</summary>
    /// <returns>The VM's resource id.</returns>
    public string AddVirtualMachine(string resourceGroup, string name, string? zone = null, string? deviceRoot = null, FakeVmPowerState state = FakeVmPowerState.Running) =>
        _cloud.AddVirtualMachine(resourceGroup, name, zone, deviceRoot, state);

    /// <summary>Where the VM's <c>disk/azure/scsi1/lun{N}</c> links and <c>sys/</c> are made; null without block devices.</summary>
    public string? DeviceRootOf(string resourceGroup, string name) => _cloud.DeviceRoot(resourceGroup, name);

    /// <summary>The VM's <c>vmId</c>, as IMDS reports it.</summary>
    public string VmIdOf(string resourceGroup, string name) => _cloud.VmId(resourceGroup, name);

    /// <summary>Running, stopped or deallocated; devices of a VM that is not running are removed, and made again when it runs.</summary>
    public Task SetPowerStateAsync(string resourceGroup, string name, FakeVmPowerState state) => _cloud.SetPowerStateAsync(resourceGroup, name, state);

    /// <summary>
    /// The next <paramref name="count"/> requests named <paramref name="call"/> (<c>"{METHOD} {kind}"</c>, kind one of
    /// disks, snapshots, virtualMachines, resources, resourceGroups, operations, operationResults; e.g.
    /// <c>"PATCH virtualMachines"</c>) get 429 TooManyRequests with <c>Retry-After</c>.
    /// </summary>
    public void ThrottleNext(string call, int count, TimeSpan retryAfter) =>
        _faults.Add(call, count, () => new ArmError(429, "TooManyRequests", "The request is being throttled; retry after the interval in Retry-After.") { RetryAfter = retryAfter });

    /// <summary>The next <paramref name="count"/> requests named <paramref name="call"/> get a 5xx (500 InternalServerError by default).</summary>
    public void FailNext(string call, int count, int status = 500) =>
        _faults.Add(call, count, () => new ArmError(status, status == 503 ? "ServiceUnavailable" : "InternalServerError", "The server encountered an internal error; please retry the request."));

    /// <summary>Operations started from now on stay InProgress, their change not made, until <see cref="ReleaseOperations"/>.</summary>
    public void StickOperations() => _cloud.OperationGate.Close();

    public void ReleaseOperations() => _cloud.OperationGate.Open();

    public void ClearFaults() => _faults.Clear();

    /// <summary>How many requests named <paramref name="call"/> arrived (see <see cref="ThrottleNext"/>), faulted ones included.</summary>
    public int Calls(string call) => _calls.GetValueOrDefault(call);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _cloud.StopAsync();
        await _app.DisposeAsync();
        _certificates.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrived = System.Diagnostics.Stopwatch.GetTimestamp();
        var key = ArmRequest.KeyOf(context.Request);
        _ = _calls.AddOrUpdate(key, 1, (_, n) => n + 1);
        ArmAnswer answer;
        try
        {
            var authorization = context.Request.Headers.Authorization.ToString();
            if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || (RequiredToken is { } token && authorization != "Bearer " + token))
            {
                throw new ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or not a Bearer token.");
            }

            if (string.IsNullOrEmpty(context.Request.Query["api-version"]))
            {
                throw new ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
            }

            if (_faults.Take(key) is { } fault)
            {
                throw fault;
            }

            var request = await ArmRequest.ReadAsync(context.Request, BaseUri.ToString().TrimEnd('/'), context.RequestAborted);
            if (!request.Subscription.Equals(Options.SubscriptionId, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmError(404, "SubscriptionNotFound", $"The subscription '{request.Subscription}' could not be found.");
            }

            answer = await _cloud.HandleAsync(request);
        }
        catch (ArmError error)
        {
            answer = new ArmAnswer(error.Status, ArmJson.Error(error));
            if (error.RetryAfter is { } after)
            {
                _ = answer.With("Retry-After", ((int)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
            }
        }

        await WriteAsync(context, answer);
        Served?.Invoke(key, arrived, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    private static async Task WriteAsync(HttpContext context, ArmAnswer answer)
    {
        context.Response.StatusCode = answer.Status;
        context.Response.Headers["x-ms-request-id"] = Guid.NewGuid().ToString();
        foreach (var (name, value) in answer.Headers)
        {
            context.Response.Headers[name] = value;
        }

        if (answer.Body is JsonNode body)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(body.ToJsonString());
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
        }
        else
        {
            context.Response.ContentLength = 0;
        }
    }
}
