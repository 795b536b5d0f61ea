using Csvol.Volumes;

namespace Csvol.Hosting;

/// <summary>
/// Start and stop in the order Docker needs. Start: the socket path is made free, Kestrel listens, then the state loads
/// in the background (Docker's first calls connect at once; Activate and Capabilities answer without waiting for it).
/// Stop: Kestrel stops taking calls and lets those in progress finish for at most <see cref="Drain"/>, then aborts the
/// rest; only then is work still running cancelled. Mounts stay in place.
/// </summary>
internal sealed partial class PluginLifecycle(
    CsvolSettings settings, CsvolDirectories directories, VolumeService volumes, IHostApplicationLifetime lifetime, ILogger logger)
    : IHostedLifecycleService, IDisposable
{
    /// <summary>
    /// How long calls in progress may take to finish at shutdown. Bounded because a caller that never finished sending
    /// kept Kestrel waiting forever; short because dockerd kills a plugin that has not exited within 10 s of SIGTERM.
    /// </summary>
    public static readonly TimeSpan Drain = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _shutdown = new();
    private Task _stateLoad = Task.CompletedTask;

    /// <summary>
    /// Cancelled once the drain is over. Work that changes state is not abandoned when Docker hangs up: a half-done
    /// Mount is worse than a slow one, and Docker's retry finds it finished. Only this cancels it.
    /// </summary>
    public CancellationToken Shutdown => _shutdown.Token;

    /// <summary>Why csvol refused to serve after it started (state written by a newer csvol); null while it serves.</summary>
    public string? Refusal { get; private set; }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        UnixSocket.Prepare(settings.Socket);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        LogListening(logger, settings.Socket, settings.Backend, directories.StateDir);
        _stateLoad = Task.Run(LoadStateAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task LoadStateAsync()
    {
        try
        {
            await volumes.InitializeAsync(_shutdown.Token).ConfigureAwait(false);
        }
        catch (StateVersionException ex)
        {
            // Serving would hide that newer csvol's volumes from Docker; stopping keeps them for when it comes back.
            Refusal = ex.Message;
            LogRefused(logger, ex.Message);
            lifetime.StopApplication();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Logged by VolumeService; every call now answers with the reason, so Docker's users see it too.
        }
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        LogStopping(logger, Drain.TotalSeconds);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After Kestrel's drain; <paramref name="cancellationToken"/> is the rest of the <see cref="Drain"/> budget.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            LogDrainExpired(logger, Drain.TotalSeconds);
        }

        await _shutdown.CancelAsync().ConfigureAwait(false);
        try
        {
            // Bounded too: a load stuck in I/O that ignores cancellation (a hung file system) must not keep csvol up.
            await _stateLoad.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped before the state finished loading; the next start loads it again.
        }
    }

    public void Dispose() => _shutdown.Dispose();

    [LoggerMessage(Level = LogLevel.Critical, Message = "csvol cannot serve: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening on {Socket} with backend {Backend}, state in {StateDir}")]
    private static partial void LogListening(ILogger logger, string socket, string backend, string stateDir);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Stopping: no new calls; calls in progress have {DrainSeconds} s to finish; mounts stay in place")]
    private static partial void LogStopping(ILogger logger, double drainSeconds);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Calls still in progress after {DrainSeconds} s: their connections were closed and their work cancelled")]
    private static partial void LogDrainExpired(ILogger logger, double drainSeconds);
}
