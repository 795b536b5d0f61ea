using System.Security.Cryptography;

namespace Csvol.FakeCloud.Ec2;

/// <summary>The fake's state and actions. One lock guards all state; block-device work runs outside it, one at a time.</summary>
internal sealed partial class Ec2Cloud(FakeEc2Options options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, FakeVolume> _volumes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _clientTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeInstance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeSnapshot> _snapshots = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _deviceLock = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _transitions = [];
    private readonly List<Exception> _backgroundErrors = [];
    private readonly BlockDevices? _devices = options.MakesBlockDevices ? new BlockDevices(options.DataDirectory!, options.DeviceRoot!) : null;

    public TimeSpan CreateDelay { get; set; } = options.CreateDelay;

    public TimeSpan AttachDelay { get; set; } = options.AttachDelay;

    /// <summary>Attach the way a Xen instance does; see <see cref="BlockDevices.Xen"/>.</summary>
    public bool XenDevices { get => _devices?.Xen ?? false; set => _devices!.Xen = value; }

    public TimeSpan DetachDelay { get; set; } = options.DetachDelay;

    /// <summary>See <see cref="FakeEc2Server.AttachCompleted"/>.</summary>
    public Action<string, long>? AttachCompleted { get; set; }

    public Gate AttachGate { get; } = new();

    public Gate DetachGate { get; } = new();

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

    public async Task<string> HandleAsync(QueryRequest request, string requestId, CancellationToken cancellationToken) => request.Action switch
    {
        "ModifyVolume" => await ModifyVolumeAsync(request, requestId, cancellationToken),
        "CreateSnapshot" => await CreateSnapshotAsync(request, requestId, cancellationToken),
        _ => Handle(request, requestId),
    };

    private string Handle(QueryRequest request, string requestId) => request.Action switch
    {
        "CreateVolume" => CreateVolume(request, requestId),
        "DescribeVolumes" => DescribeVolumes(request, requestId),
        "DeleteVolume" => DeleteVolume(request, requestId),
        "CreateTags" => CreateTags(request, requestId),
        "AttachVolume" => AttachVolume(request, requestId),
        "DetachVolume" => DetachVolume(request, requestId),
        "DescribeInstances" => DescribeInstances(request, requestId),
        "DescribeSnapshots" => DescribeSnapshots(request, requestId),
        "" => throw Ec2Error.Missing("Action"),
        var other => throw new Ec2Error("InvalidAction", $"The action {other} is not valid for this web service."),
    };

    public void SetInstance(string id, string availabilityZone, FakeInstanceState state)
    {
        lock (_gate)
        {
            _instances[id] = new FakeInstance { Id = id, AvailabilityZone = availabilityZone, State = state };
        }
    }

    public void SetInstanceState(string id, FakeInstanceState state)
    {
        lock (_gate)
        {
            Instance(id).State = state;
        }
    }

    /// <summary>Stops state changes and releases every loop device this fake set up.</summary>
    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        Task[] running;
        lock (_gate)
        {
            running = [.. _transitions];
        }

        await Task.WhenAll(running.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        if (_devices is null)
        {
            return;
        }

        await _deviceLock.WaitAsync();
        try
        {
            List<(string Id, FakeAttachment Attachment)> attached;
            lock (_gate)
            {
                attached = [.. _volumes.Values.Where(v => v.Attachment?.LoopDevice is not null).Select(v => (v.Id, v.Attachment!))];
            }

            foreach (var (id, attachment) in attached)
            {
                await _devices.DetachAsync(id, attachment.Device, attachment.LoopDevice!, CancellationToken.None);
                attachment.LoopDevice = null;
            }

            if (options.DeleteDataOnDispose)
            {
                _devices.DeleteAllFiles();
            }
        }
        finally
        {
            _ = _deviceLock.Release();
        }
    }

    private FakeVolume Volume(string id) => _volumes.TryGetValue(id, out var volume) ? volume : throw Ec2Error.VolumeNotFound(id);

    private FakeInstance Instance(string id) => _instances.TryGetValue(id, out var instance) ? instance : throw Ec2Error.InstanceNotFound(id);

    /// <summary>Runs a state change in the background after <paramref name="delay"/> and, if closed, the gate.</summary>
    private void Later(TimeSpan delay, Gate? gate, Func<CancellationToken, Task> change)
    {
        var token = _stopping.Token;
        var task = Task.Run(
            async () =>
            {
                try
                {
                    await Task.Delay(delay, time, token);
                    if (gate is not null)
                    {
                        await gate.WaitAsync(token);
                    }

                    await change(token);
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
            CancellationToken.None);
        lock (_gate)
        {
            _ = _transitions.RemoveAll(t => t.IsCompleted);
            _transitions.Add(task);
        }
    }

    private static string NewId(string prefix) => prefix + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(9))[..17];
}
