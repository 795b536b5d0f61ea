using Csvol.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Csvol.Tests.Support;

/// <summary>The real plugin (Kestrel, VolumeService, LocalBackend, mount(2)) on a private socket and directories.</summary>
internal sealed class PluginHost : IAsyncDisposable
{
    private readonly Action<IServiceCollection>? _configure;
    private WebApplication? _app;

    private PluginHost(TempDir dir, bool ownsDir, IReadOnlyDictionary<string, string?>? variables, Action<IServiceCollection>? configure)
    {
        _configure = configure;
        Dir = dir;
        OwnsDir = ownsDir;
        Variables = new Dictionary<string, string?>
        {
            [CsvolSettings.SocketVariable] = dir.Sub("csvol.sock"),
            [CsvolSettings.StateDirVariable] = dir.Sub("state"),
            [CsvolSettings.MountRootVariable] = dir.Sub("mnt"),
            [CsvolSettings.LogLevelVariable] = "warning",
        };
        foreach (var (name, value) in variables ?? new Dictionary<string, string?>())
        {
            Variables[name] = value;
        }
    }

    public TempDir Dir { get; }

    private bool OwnsDir { get; }

    /// <summary>The CSVOL_* variables the plugin is started with, as the environment would give them.</summary>
    private Dictionary<string, string?> Variables { get; }

    /// <summary>The settings as the running plugin bound them.</summary>
    public CsvolSettings Settings { get; private set; } = null!;

    public PluginClient Client { get; private set; } = null!;

    public IServiceProvider Services => _app!.Services;

    /// <param name="reuse">A directory to start in (a restart on the same state), else a new one the host owns.</param>
    /// <param name="variables">CSVOL_* variables beyond the private paths, e.g. another backend.</param>
    /// <param name="configure">Registrations after csvol's own (a test backend).</param>
    public static async Task<PluginHost> StartAsync(
        TempDir? reuse = null, IReadOnlyDictionary<string, string?>? variables = null, Action<IServiceCollection>? configure = null)
    {
        Root.Require();
        var host = new PluginHost(reuse ?? new TempDir(), ownsDir: reuse is null, variables, configure);
        await host.StartAppAsync();
        return host;
    }

    public async Task StartAppAsync()
    {
        _app = CsvolApp.Create(settings => settings.AddInMemoryCollection(Variables), _configure);
        Settings = _app.Services.GetRequiredService<CsvolSettings>();
        await _app.StartAsync();
        Client = new PluginClient(Settings.Socket);
        // The state loads in the background; List answers once it has.
        (await Client.PostAsync("/VolumeDriver.List")).AssertOk();
    }

    /// <summary>Stops the plugin without unmounting anything, as a crash or an upgrade would, then starts it again.</summary>
    public async Task RestartAsync()
    {
        await StopAppAsync();
        await StartAppAsync();
    }

    public string MountpointOf(string name) => Path.Combine(Settings.MountRoot, name);

    public string DataPathOf(string name) => Path.Combine(Settings.StateDir, "data", name);

    public async Task StopAppAsync()
    {
        Client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAppAsync();
        if (OwnsDir)
        {
            Dir.Dispose();
        }
    }
}
