using System.Runtime.InteropServices;
using Csvol.Mounting;
using Csvol.Protocol;
using Csvol.Backends;
using Csvol.Backends.Local;
using Csvol.Volumes;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Extensions.Logging;
using Serilog.Formatting.Compact;
using ILogger = Microsoft.Extensions.Logging.ILogger;

namespace Csvol.Hosting;

/// <summary>
/// The plugin process: Kestrel on a Unix socket serving the protocol, and the chosen backend.
/// </summary>
/// <remarks>
/// Kestrel runs without the generic host. Under Native AOT the host's container builds its open generic
/// services (options, loggers, hosted services) with the runtime type loader, which took about 20 ms of a
/// 30 ms start; dockerd waits for that on every plugin enable and daemon restart. The services here are
/// few and closed, so the container below resolves them without building any type at run time.
/// </remarks>
internal sealed partial class CsvolApp : IAsyncDisposable
{
    private readonly CsvolOptions _settings;
    private readonly ServiceProvider _services;
    private readonly VolumeService _volumes;
    private readonly KestrelServer _server;
    private readonly PluginApplication _application;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _stateLoad = Task.CompletedTask;
    private bool _started;

    private CsvolApp(CsvolOptions settings, ServiceProvider services)
    {
        _settings = settings;
        _services = services;
        var loggerFactory = services.GetRequiredService<ILoggerFactory>();
        _logger = loggerFactory.CreateLogger("Csvol.Hosting");
        _volumes = services.GetRequiredService<VolumeService>(); // resolves the backend now: a bad one stops start-up

        // Work that changes state is not abandoned when Docker hangs up: a half-done Mount is worse than a
        // slow one, and Docker's retry finds it finished. Only shutdown cancels it.
        _application = new PluginApplication(PluginEndpoints.Create(_volumes, loggerFactory.CreateLogger("Csvol.Protocol"), _stopping.Token));
        _server = new KestrelServer(
            Options.Create(KestrelOptions(settings.Socket)),
            new SocketTransportFactory(Options.Create(TransportOptions()), loggerFactory),
            loggerFactory);
    }

    public IServiceProvider Services => _services;

    /// <param name="settings">The process settings.</param>
    /// <param name="configure">Registrations after csvol's own, which they replace (tests add a backend here).</param>
    public static CsvolApp Create(CsvolOptions settings, Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddCsvolLogging(settings);
        services.AddCsvolVolumes(settings);
        configure?.Invoke(services);
        return new CsvolApp(settings, services.BuildServiceProvider());
    }

    /// <summary>Opens the socket, then loads state in the background: Docker's first calls connect at once and wait for it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        UnixSocket.Prepare(_settings.Socket);
        await _server.StartAsync(_application, cancellationToken).ConfigureAwait(false);
        _started = true;
        LogListening(_logger, _settings.Socket, _settings.Backend, _settings.StateDir);
        _stateLoad = Task.Run(() => _volumes.InitializeAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>Serves until SIGTERM (docker plugin disable) or SIGINT, then stops in order.</summary>
    public async Task RunAsync()
    {
        var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // csvol stops itself, in order, rather than being terminated mid-call
            signalled.TrySetResult();
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        await StartAsync().ConfigureAwait(false);
        await signalled.Task.ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
    }

    /// <summary>Stops taking calls, lets calls in progress finish (Kestrel's grace period), and leaves mounts in place.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_started)
        {
            return;
        }

        _started = false;
        LogStopping(_logger);
        await _server.StopAsync(cancellationToken).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _stateLoad.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped before the state finished loading; the next start loads it again.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _server.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>
    /// Requests run on the socket's I/O thread rather than hopping to the thread pool: a Get is microseconds of
    /// work, and the hop was a large part of its latency. Calls that block are moved off it (PluginEndpoints).
    /// </summary>
    private static SocketTransportOptions TransportOptions() => new() { UnsafePreferInlineScheduling = true };

    private static KestrelServerOptions KestrelOptions(string socketPath)
    {
        var kestrel = new KestrelServerOptions { AddServerHeader = false };
        kestrel.Limits.MaxRequestBodySize = RequestBody.DrainBytes; // RequestBody answers 413 above MaxBytes
        kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10); // dockerd keeps its connection open
        kestrel.ListenUnixSocket(socketPath, listen => listen.Protocols = HttpProtocols.Http1);
        return kestrel;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening on {Socket} with backend {Backend}, state in {StateDir}")]
    private static partial void LogListening(ILogger logger, string socket, string backend, string stateDir);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: no new calls; mounts stay in place")]
    private static partial void LogStopping(ILogger logger);
}

/// <summary>How csvol's services are put together; every registration is closed, so none needs run-time type building.</summary>
internal static class CsvolServices
{
    public static IServiceCollection AddCsvolLogging(this IServiceCollection services, CsvolOptions settings) =>
        services.AddSingleton<ILoggerFactory>(new SerilogLoggerFactory(
            new LoggerConfiguration()
                .MinimumLevel.Is(settings.SerilogLevel)
                .MinimumLevel.Override("Microsoft", Serilog.Events.LogEventLevel.Warning)
                .Enrich.WithProperty("Backend", settings.Backend)
                .WriteTo.Console(new CompactJsonFormatter())
                .CreateLogger(),
            dispose: true));

    public static IServiceCollection AddCsvolVolumes(this IServiceCollection services, CsvolOptions settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IMounter>(new LinuxMounter());
        services.AddSingleton<IStateStore>(sp => new FileStateStore(
            settings.StateDir, sp.LoggerFor<FileStateStore>(), sp.GetRequiredService<TimeProvider>()));

        services.AddLocalBackend(settings.StateDir);
        services.AddSingleton(sp => new BackendRegistry(sp.GetServices<BackendRegistration>()));
        services.AddSingleton(sp => sp.GetRequiredService<BackendRegistry>().Get(settings.Backend).Create(sp));

        services.AddSingleton(VolumeServiceSettings.WithDefaults(settings.MountRoot));
        services.AddSingleton(sp => new VolumeService(
            sp.GetRequiredService<IVolumeBackend>(),
            sp.GetRequiredService<IStateStore>(),
            sp.GetRequiredService<IMounter>(),
            sp.GetRequiredService<VolumeServiceSettings>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.LoggerFor<VolumeService>()));
        return services;
    }

    /// <summary>A typed logger made here, where <typeparamref name="T"/> is known at compile time, not by the container.</summary>
    public static ILogger<T> LoggerFor<T>(this IServiceProvider services) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger<T>();
}
