using Csvol.Volumes;

namespace Csvol.Hosting;

/// <summary>
/// Start and stop in the order Docker needs. Start: the socket path is made free, Kestrel listens, then the state loads
/// in the background (Docker's first calls connect at once; Activate and Capabilities answer without waiting for it).
/// Stop: Kestrel stops taking calls and lets those in progress finish; only then is work still running cancelled.
/// Mounts stay in place.
/// </summary>
internal sealed partial class PluginLifecycle(CsvolSettings settings, VolumeService volumes, ILogger logger)
    : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _shutdown = new();
    private Task _stateLoad = Task.CompletedTask;

    /// <summary>
    /// Cancelled once Kestrel has stopped. Work that changes state is not abandoned when Docker hangs up: a half-done
    /// Mount is worse than a slow one, and Docker's retry finds it finished. Only this cancels it.
    /// </summary>
    public CancellationToken Shutdown => _shutdown.Token;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        UnixSocket.Prepare(settings.Socket);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        LogListening(logger, settings.Socket, settings.Backend, settings.StateDir);
        _stateLoad = Task.Run(() => volumes.InitializeAsync(_shutdown.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        LogStopping(logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After Kestrel has stopped.</summary>
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        await _shutdown.CancelAsync().ConfigureAwait(false);
        try
        {
            await _stateLoad.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped before the state finished loading; the next start loads it again.
        }
    }

    public void Dispose() => _shutdown.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening on {Socket} with backend {Backend}, state in {StateDir}")]
    private static partial void LogListening(ILogger logger, string socket, string backend, string stateDir);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: no new calls; mounts stay in place")]
    private static partial void LogStopping(ILogger logger);
}
