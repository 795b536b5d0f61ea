using Csvol.Backends;
#if CSVOL_AZUREDISK
using Csvol.Backends.AzureDisk;
#endif
#if CSVOL_EBS
using Csvol.Backends.Ebs;
#endif
using Csvol.Backends.Local;
#if CSVOL_NFS
using Csvol.Backends.Nfs;
#endif
using Csvol.Mounting;
using Csvol.Protocol;
using Csvol.Volumes;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Csvol.Hosting;

/// <summary>How csvol is put together, one method per concern. csvol's own registrations are factories: nothing is built by reflection.</summary>
internal static class CsvolServices
{
    /// <summary><see cref="CsvolSettings"/> bound from <paramref name="configuration"/> (CSVOL_* variables) and validated when first read.</summary>
    public static IServiceCollection AddCsvolSettings(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CsvolSettings>().Bind(configuration).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CsvolSettings>>(new CsvolSettingsValidator());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<CsvolSettings>>().Value);
        return services;
    }

    /// <summary>Serilog, compact JSON on stdout (dockerd keeps it in its log). The static logger stays Program's bootstrap logger.</summary>
    public static IServiceCollection AddCsvolLogging(this IServiceCollection services) =>
        services.AddSerilog(
            (sp, logger) =>
            {
                var settings = sp.GetRequiredService<CsvolSettings>();
                logger.MinimumLevel.Is(settings.SerilogLevel)
                    .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
                    // Off entirely: while this logger is on at any level, ASP.NET Core starts an Activity and a log scope
                    // for every request. csvol logs each call itself (PluginCall).
                    .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", LogEventLevel.Fatal + 1)
                    .Enrich.WithProperty("Backend", settings.Backend)
                    .WriteTo.Console(new CompactJsonFormatter());
            },
            preserveStaticLogger: true);

    /// <summary>Kestrel alone (no HTTPS, no configuration sections) on the Unix socket, HTTP/1.1 as dockerd speaks it.</summary>
    public static WebApplicationBuilder AddPluginSocket(this WebApplicationBuilder builder)
    {
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseSockets(transport =>
        {
            // Requests run on the socket's I/O thread rather than hopping to the thread pool: a Get is microseconds of
            // work, and the hop was a large part of its latency. Calls that block are moved off it (PluginCall).
            transport.UnsafePreferInlineScheduling = true;
            transport.CreateBoundListenSocket = UnixSocket.Bind;
        });
        builder.Services.AddOptions<KestrelServerOptions>().Configure<CsvolSettings>((kestrel, settings) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = RequestBody.DrainBytes; // RequestBody answers 413 above MaxBytes
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10); // dockerd keeps its connection open
            kestrel.ListenUnixSocket(settings.Socket, listen => listen.Protocols = HttpProtocols.Http1);
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = PluginLifecycle.Drain);
        return builder;
    }

    /// <summary>The prepared directories, the start and stop sequence, and what Docker calls the driver.</summary>
    public static IServiceCollection AddPluginLifecycle(this IServiceCollection services)
    {
        services.AddSingleton(sp => CsvolDirectories.Prepare(
            sp.GetRequiredService<CsvolSettings>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("Csvol.Hosting")));
        services.AddSingleton(sp => PluginDriver.ForBackend(
            sp.GetRequiredService<CsvolSettings>().Backend, sp.GetRequiredService<VolumeService>().Scope));
        services.AddSingleton(sp => new PluginLifecycle(
            sp.GetRequiredService<CsvolSettings>(),
            sp.GetRequiredService<CsvolDirectories>(),
            sp.GetRequiredService<VolumeService>(),
            sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Csvol.Hosting")));
        services.AddHostedService(sp => sp.GetRequiredService<PluginLifecycle>());
        return services;
    }

    /// <summary>The volume service and what it is built from: state store, mounter, and the backend CSVOL_BACKEND names.</summary>
    public static IServiceCollection AddCsvolVolumes(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IMounter>(new LinuxMounter());
        services.AddSingleton<IStateStore>(sp => new FileStateStore(
            sp.GetRequiredService<CsvolDirectories>().StateDir, sp.LoggerFor<FileStateStore>(), sp.GetRequiredService<TimeProvider>()));

        // The backends csvol ships, one registration each from its own folder; backends.list names the same set.
        services.AddLocalBackend(sp => sp.GetRequiredService<CsvolDirectories>().StateDir);
#if CSVOL_EBS
        // Compiled in only where CsvolBackends names ebs (Csvol.csproj): the AWS SDK stays out of csvol/local's binary.
        services.AddEbsBackend();
#endif
#if CSVOL_AZUREDISK
        services.AddAzureDiskBackend();
#endif
#if CSVOL_NFS
        services.AddNfsBackend(sp => sp.GetRequiredService<CsvolDirectories>().StateDir);
#endif
        services.AddSingleton(sp => new BackendRegistry(sp.GetServices<BackendRegistration>()));
        services.AddSingleton(sp => sp.GetRequiredService<BackendRegistry>().Get(sp.GetRequiredService<CsvolSettings>().Backend).Create(sp));

        services.TryAddSingleton(sp => sp.GetRequiredService<CsvolSettings>().ForVolumes(sp.GetRequiredService<CsvolDirectories>().MountRoot));
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
