using Csvol.Backends;
using Csvol.Hosting;
using Csvol.Mounting;
using Csvol.Resilience;
using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Polly.Registry;

namespace Csvol.Tests.Backends.Remote;

/// <summary>
/// One "host": the real plugin (Kestrel on its own socket, VolumeService, real mounts) with <see cref="DirectoryBackend"/>
/// on a remote directory that other hosts in the same test share.
/// </summary>
internal sealed class RemoteHost : IAsyncDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _remote;
    private readonly VolumeServiceSettings _volumeSettings;
    private readonly Dictionary<string, string?> _variables;
    private WebApplication? _app;

    private RemoteHost(string remote, RemoteFaults faults, VolumeServiceSettings? volumeSettings)
    {
        _remote = remote;
        Faults = faults;
        _variables = new Dictionary<string, string?>
        {
            [CsvolSettings.BackendVariable] = DirectoryBackend.BackendName,
            [CsvolSettings.SocketVariable] = _dir.Sub("csvol.sock"),
            [CsvolSettings.StateDirVariable] = _dir.Sub("state"),
            [CsvolSettings.MountRootVariable] = _dir.Sub("mnt"),
            [CsvolSettings.LogLevelVariable] = "warning",
        };
        _volumeSettings = volumeSettings ?? new VolumeServiceSettings(
            "", CallDeadline: TimeSpan.FromSeconds(5), DiscoveryInterval: TimeSpan.FromMilliseconds(300), RepairInterval: TimeSpan.FromSeconds(1));
    }

    public RemoteFaults Faults { get; }

    public string StateDir => _dir.Sub("state");

    public PluginClient Client { get; private set; } = null!;

    public VolumeService Volumes => _app!.Services.GetRequiredService<VolumeService>();

    public static async Task<RemoteHost> StartAsync(string remote, RemoteFaults? faults = null, VolumeServiceSettings? settings = null)
    {
        Root.Require();
        var host = new RemoteHost(remote, faults ?? new RemoteFaults(), settings);
        await host.StartAppAsync();
        return host;
    }

    public string MountpointOf(string name) => _dir.Sub("mnt", name);

    public async Task StartAppAsync()
    {
        _app = CsvolApp.Create(
            settings => settings.AddInMemoryCollection(_variables),
            services =>
            {
                services.AddSingleton(sp => _volumeSettings with { MountRoot = sp.GetRequiredService<CsvolDirectories>().MountRoot });
                services.AddBackendPipeline(DirectoryBackend.PipelineName, static _ => false, new BackendResilienceSettings
                {
                    AttemptTimeout = TimeSpan.FromSeconds(2),
                    OperationTimeout = TimeSpan.FromSeconds(20),
                    FirstRetryDelay = TimeSpan.FromMilliseconds(20),
                    MaxRetries = 2,
                });
                services.AddSingleton(new BackendRegistration(DirectoryBackend.BackendName, sp => new DirectoryBackend(
                    _remote,
                    sp.GetRequiredService<IMounter>(),
                    sp.GetRequiredService<ResiliencePipelineProvider<string>>().GetPipeline(DirectoryBackend.PipelineName),
                    Faults)));
            });
        await _app.StartAsync();
        Client = new PluginClient(_variables[CsvolSettings.SocketVariable]!);
    }

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
        _dir.Dispose();
    }
}
