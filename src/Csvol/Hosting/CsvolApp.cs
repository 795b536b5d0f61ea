using Csvol.Mounting;
using Csvol.Protocol;
using Csvol.Providers;
using Csvol.Providers.Local;
using Csvol.Volumes;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Serilog;
using Serilog.Formatting.Compact;

namespace Csvol.Hosting;

/// <summary>Builds the plugin: Kestrel on a Unix socket, the protocol endpoints and the chosen backend.</summary>
internal static class CsvolApp
{
    public static WebApplication Create(CsvolOptions settings, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Services.AddCsvolLogging(settings);
        builder.Services.AddCsvolVolumes(settings);
        builder.WebHost.AddPluginSocket(settings.Socket);
        customize?.Invoke(builder);

        var app = builder.Build();
        _ = app.Services.GetRequiredService<VolumeService>(); // resolves the backend now: a bad one stops start-up
        app.MapPluginProtocol();
        return app;
    }

    public static IServiceCollection AddCsvolLogging(this IServiceCollection services, CsvolOptions settings) =>
        services.AddSerilog(
            new LoggerConfiguration()
                .MinimumLevel.Is(settings.SerilogLevel)
                .MinimumLevel.Override("Microsoft", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("Microsoft.Hosting.Lifetime", Serilog.Events.LogEventLevel.Information)
                .Enrich.WithProperty("Backend", settings.Provider)
                .WriteTo.Console(new CompactJsonFormatter())
                .CreateLogger(),
            dispose: true);

    public static IServiceCollection AddCsvolVolumes(this IServiceCollection services, CsvolOptions settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IMounter, LinuxMounter>();
        services.AddSingleton<IStateStore>(sp => new FileStateStore(
            settings.StateDir, sp.GetRequiredService<ILogger<FileStateStore>>(), sp.GetRequiredService<TimeProvider>()));

        services.AddSingleton(new ProviderRegistration(LocalProvider.ProviderName, sp => new LocalProvider(
            settings.StateDir, sp.GetRequiredService<IMounter>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<LocalProvider>>())));
        services.AddSingleton<ProviderRegistry>();
        services.AddSingleton(sp => sp.GetRequiredService<ProviderRegistry>().Get(settings.Provider).Create(sp));

        services.AddSingleton(sp => new VolumeService(
            sp.GetRequiredService<IVolumeProvider>(),
            sp.GetRequiredService<IStateStore>(),
            sp.GetRequiredService<IMounter>(),
            settings.MountRoot,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<VolumeService>>()));
        services.AddHostedService<StateLoader>();
        return services;
    }

    public static IWebHostBuilder AddPluginSocket(this IWebHostBuilder webHost, string socketPath) =>
        webHost.ConfigureKestrel(kestrel =>
        {
            UnixSocket.Prepare(socketPath);
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = RequestBody.MaxBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10); // dockerd keeps its connection open
            kestrel.ListenUnixSocket(socketPath, listen => listen.Protocols = HttpProtocols.Http1);
        });
}

/// <summary>Loads state once the socket is up, so Docker's first calls connect at once and wait for it.</summary>
internal sealed class StateLoader(VolumeService volumes) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await volumes.InitializeAsync(stoppingToken).ConfigureAwait(false);
    }
}
