using Csvol.Protocol;

namespace Csvol.Hosting;

/// <summary>The plugin process: Docker's volume plugin protocol on a Unix socket, served by Kestrel, and the chosen backend.</summary>
/// <remarks>
/// <para>
/// An empty <see cref="WebApplication"/>: Kestrel's core, routing's core and nothing else; no configuration files,
/// no HTTPS, no default logging providers. Everything that can refuse to start does so in <see cref="Create"/>, before
/// the socket exists: the settings are validated, the state directory is locked and the backend is chosen while the
/// endpoints are mapped.
/// </para>
/// </remarks>
internal static class CsvolApp
{
    /// <param name="addSettings">Where the CSVOL_* settings come from: the environment in the plugin, a dictionary in tests.</param>
    /// <param name="configure">Registrations after csvol's own, which they replace or add to (tests add a backend here).</param>
    public static WebApplication Create(Action<IConfigurationBuilder> addSettings, Action<IServiceCollection>? configure = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        addSettings(builder.Configuration);
        builder.Services.AddCsvolSettings(builder.Configuration);
        builder.Services.AddCsvolLogging();
        builder.AddPluginSocket();
        builder.Services.AddRoutingCore();
        builder.Services.AddPluginLifecycle();
        builder.Services.AddCsvolVolumes();
        configure?.Invoke(builder.Services);

        var app = builder.Build();
        try
        {
            app.UsePluginProtocol(app.Services.GetRequiredService<PluginLifecycle>().Shutdown);
            return app;
        }
        catch
        {
            ((IDisposable)app).Dispose(); // may hold the state directory's lock by now
            throw;
        }
    }
}
