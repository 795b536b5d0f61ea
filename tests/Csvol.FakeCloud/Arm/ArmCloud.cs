using System.Globalization;
using System.Text.Json.Nodes;
using Csvol.FakeCloud.Devices;

namespace Csvol.FakeCloud.Arm;

/// <summary>The fake ARM's state and its operations. One lock guards all state; block-device work runs outside it, one at a time.</summary>
internal sealed partial class ArmCloud
{
    private readonly FakeArmOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ArmDisk> _disks = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ArmSnapshot> _snapshots = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ArmVm> _vms = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _resourceGroups = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ArmOperation> _operations = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _deviceLock = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _running = [];
    private readonly List<Exception> _backgroundErrors = [];
    private readonly LoopDisks? _files;
    private readonly AzureDevices? _devices;

    public ArmCloud(FakeArmOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        InProgressPolls = options.InProgressPolls;
        PollRetryAfter = options.PollRetryAfter;
        OperationDelay = options.OperationDelay;
        DeviceDelay = options.DeviceDelay;
        PageSize = options.PageSize;
        if (options.MakesBlockDevices)
        {
            _files = new LoopDisks(options.DataDirectory!);
            _devices = new AzureDevices(_files, options.ScsiHost);
        }
    }

    public int InProgressPolls { get; set; }

    public TimeSpan? PollRetryAfter { get; set; }

    public TimeSpan OperationDelay { get; set; }

    public TimeSpan DeviceDelay { get; set; }

    public int PageSize { get; set; }

    /// <summary>See <see cref="FakeArmServer.OperationCompleted"/>.</summary>
    public Action<string, long>? OperationCompleted { get; set; }

    /// <summary>Closed: every operation started meanwhile stays InProgress, its change not made, until it opens.</summary>
    public Gate OperationGate { get; } = new();

    public IReadOnlyList<Exception> BackgroundErrors
    {
        get
        {
            lock (_gate)
            {
                return [.. _backgroundErrors];
            }
        }
    }

    private string Subscription => _options.SubscriptionId;

    public Task<ArmAnswer> HandleAsync(ArmRequest request) => (request.Kind, request.Method) switch
    {
        ("operations", "GET") => Task.FromResult(Monitor(request)),
        ("operationResults", "GET") => Task.FromResult(MonitorResult(request)),
        ("resourceGroups", "GET") => Task.FromResult(ResourceGroup(request)),
        ("resources", "GET") => Task.FromResult(ListGeneric(request)),
        ("disks", _) => DisksAsync(request),
        ("snapshots", _) => SnapshotsAsync(request),
        ("virtualMachines", _) => VirtualMachinesAsync(request),
        _ => throw new ArmError(405, "MethodNotAllowed", $"{request.Method} is not supported on {request.Path} by the fake ARM."),
    };

    public void AddResourceGroup(string name, string location)
    {
        lock (_gate)
        {
            _ = _resourceGroups.TryAdd(name, location);
        }
    }

    /// <summary>Stops operations and releases every loop device this fake set up.</summary>
    public async Task StopAsync()
    {
        OperationGate.Open();
        await _stopping.CancelAsync();
        Task[] running;
        lock (_gate)
        {
            running = [.. _running];
        }

        await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        if (_devices is null)
        {
            return;
        }

        await _deviceLock.WaitAsync();
        try
        {
            List<(ArmVm Vm, ArmDataDisk DataDisk)> attached;
            lock (_gate)
            {
                attached = [.. _vms.Values.SelectMany(vm => vm.DataDisks.Where(d => d.LoopDevice is not null).Select(d => (vm, d)))];
            }

            foreach (var (vm, dataDisk) in attached)
            {
                await _devices.DetachAsync(vm.DeviceRoot!, dataDisk.Lun, dataDisk.LoopDevice!, CancellationToken.None);
                dataDisk.LoopDevice = null;
            }

            if (_options.DeleteDataOnDispose)
            {
                _files!.DeleteAllFiles();
            }
        }
        finally
        {
            _ = _deviceLock.Release();
        }
    }

    private ArmAnswer ResourceGroup(ArmRequest request)
    {
        lock (_gate)
        {
            var location = _resourceGroups.GetValueOrDefault(request.ResourceGroup!)
                ?? throw new ArmError(404, "ResourceGroupNotFound", $"Resource group '{request.ResourceGroup}' could not be found.");
            return new ArmAnswer(200, new JsonObject
            {
                ["id"] = $"/subscriptions/{Subscription}/resourceGroups/{request.ResourceGroup}",
                ["name"] = request.ResourceGroup,
                ["type"] = "Microsoft.Resources/resourceGroups",
                ["location"] = location,
                ["properties"] = new JsonObject { ["provisioningState"] = "Succeeded" },
            });
        }
    }

    private void RequireResourceGroup(string name)
    {
        if (!_resourceGroups.ContainsKey(name))
        {
            throw new ArmError(404, "ResourceGroupNotFound", $"Resource group '{name}' could not be found.");
        }
    }

    /// <summary>
    /// Starts a long-running operation. With no delay and the gate open its change (block devices
    /// included) is made before the first answer; the monitor still answers InProgress
    /// <see cref="InProgressPolls"/> times, as the real service may.
    /// </summary>
    private async Task<ArmOperation> StartOperationAsync(Func<CancellationToken, Task> change, Action<ArmError>? failed = null, ArmOperation? operation = null)
    {
        operation ??= NewOperation();
        var delay = OperationDelay;
        if (delay <= TimeSpan.Zero && OperationGate.IsOpen)
        {
            await CompleteAsync(operation, change, failed, CancellationToken.None);
            return operation;
        }

        var token = _stopping.Token;
        Track(Task.Run(
            async () =>
            {
                try
                {
                    await Task.Delay(delay, _time, token);
                    await OperationGate.WaitAsync(token);
                    await CompleteAsync(operation, change, failed, token);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    Finish(operation, "Canceled", new ArmError(500, "OperationCanceled", "The fake ARM stopped."));
                }
            },
            CancellationToken.None));
        return operation;
    }

    /// <summary>Runs <paramref name="work"/> in the background after <paramref name="delay"/>; dispose waits for it, failures go to <see cref="BackgroundErrors"/>.</summary>
    private void Later(TimeSpan delay, Func<Task> work)
    {
        var token = _stopping.Token;
        Track(Task.Run(
            async () =>
            {
                try
                {
                    await Task.Delay(delay, _time, token);
                    await work();
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                }
                catch (Exception e)
                {
                    lock (_gate)
                    {
                        _backgroundErrors.Add(e);
                    }
                }
            },
            CancellationToken.None));
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _ = _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    /// <summary>Registers an operation; call under the lock to tie it to a resource before the change starts.</summary>
    private ArmOperation NewOperation()
    {
        var operation = new ArmOperation { Id = Guid.NewGuid().ToString(), StartTime = _time.GetUtcNow(), InProgressPollsLeft = InProgressPolls };
        lock (_gate)
        {
            _operations[operation.Id] = operation;
        }

        return operation;
    }

    private async Task CompleteAsync(ArmOperation operation, Func<CancellationToken, Task> change, Action<ArmError>? failed, CancellationToken cancellationToken)
    {
        try
        {
            await change(cancellationToken);
            Finish(operation, "Succeeded", null);
        }
        catch (ArmError error)
        {
            failed?.Invoke(error);
            Finish(operation, "Failed", error);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var error = new ArmError(500, "InternalExecutionError", "An internal execution error occurred: " + e.Message);
            lock (_gate)
            {
                _backgroundErrors.Add(e);
            }

            failed?.Invoke(error);
            Finish(operation, "Failed", error);
        }
    }

    private void Finish(ArmOperation operation, string status, ArmError? error)
    {
        lock (_gate)
        {
            operation.Status = status;
            operation.Error = error;
            operation.EndTime = _time.GetUtcNow();
            OperationCompleted?.Invoke(operation.Id, System.Diagnostics.Stopwatch.GetTimestamp()); // under the lock: the time of the change
        }
    }

    /// <summary>The answer that starts an operation: <paramref name="status"/> with <c>Azure-AsyncOperation</c> (and <c>Location</c> if asked).</summary>
    private ArmAnswer Accepted(ArmRequest request, ArmOperation operation, int status, JsonNode? body, bool withLocation)
    {
        var monitor = $"{request.BaseUri}/subscriptions/{Subscription}/providers/Microsoft.Compute/locations/{_options.Location}";
        var query = "?api-version=" + Uri.EscapeDataString(request.ApiVersion);
        var answer = new ArmAnswer(status, body).With("Azure-AsyncOperation", $"{monitor}/operations/{operation.Id}{query}");
        if (withLocation)
        {
            _ = answer.With("Location", $"{monitor}/operationResults/{operation.Id}{query}");
        }

        return WithRetryAfter(answer);
    }

    private ArmAnswer WithRetryAfter(ArmAnswer answer) => PollRetryAfter is { } after
        ? answer.With("Retry-After", ((int)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture))
        : answer;

    private ArmOperation Operation(ArmRequest request)
    {
        if (!_operations.TryGetValue(request.Name!, out var operation))
        {
            throw new ArmError(404, "NotFound", $"The operation '{request.Name}' was not found.");
        }

        return operation;
    }

    private ArmAnswer Monitor(ArmRequest request)
    {
        lock (_gate)
        {
            var operation = Operation(request);
            var body = ArmJson.Operation(operation);
            if (operation.Done && operation.InProgressPollsLeft > 0)
            {
                operation.InProgressPollsLeft--;
            }

            return body["status"]!.GetValue<string>() == "InProgress" ? WithRetryAfter(new ArmAnswer(200, body)) : new ArmAnswer(200, body);
        }
    }

    /// <summary>The <c>Location</c> monitor: 202 while running, then 204 (or the error).</summary>
    private ArmAnswer MonitorResult(ArmRequest request)
    {
        lock (_gate)
        {
            var operation = Operation(request);
            if (!operation.Done || operation.InProgressPollsLeft > 0)
            {
                return WithRetryAfter(new ArmAnswer(202, null).With("Location", request.BaseUri + request.Path + "?api-version=" + Uri.EscapeDataString(request.ApiVersion)));
            }

            return operation.Error is { } error ? new ArmAnswer(error.Status, ArmJson.Error(error)) : new ArmAnswer(204, null);
        }
    }

    private string DiskState(ArmDisk disk) =>
        disk.ManagedBy is null ? "Unattached"
        : _vms.TryGetValue(disk.ManagedBy, out var vm) && vm.PowerState == FakeVmPowerState.Deallocated ? "Reserved"
        : "Attached";

    /// <summary>A page of <paramref name="items"/> from <c>$skipToken</c> on (at most <c>$top</c>), with a <c>nextLink</c> if more follow.</summary>
    private ArmAnswer Page(ArmRequest request, IReadOnlyList<JsonNode> items)
    {
        var skip = int.TryParse(request.Query["$skipToken"], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
        var top = int.TryParse(request.Query["$top"], NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t > 0 ? t : int.MaxValue;
        var size = Math.Min(PageSize, top);
        var body = new JsonObject { ["value"] = new JsonArray([.. items.Skip(skip).Take(size)]) };
        if (skip + size < items.Count)
        {
            var query = string.Join('&', request.Query
                .Where(q => !q.Key.Equals("$skipToken", StringComparison.OrdinalIgnoreCase))
                .Select(q => Uri.EscapeDataString(q.Key) + "=" + Uri.EscapeDataString(q.Value.ToString())));
            body["nextLink"] = $"{request.BaseUri}{request.Path}?{query}&$skipToken={skip + size}";
        }

        return new ArmAnswer(200, body);
    }

    private string ResourceId(string resourceGroup, string kind, string name) =>
        $"/subscriptions/{Subscription}/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/{kind}/{name}";
}
