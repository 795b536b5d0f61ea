using Csvol.Backends;
using Csvol.Hosting;
using Csvol.Mounting;
using Csvol.Resilience;
using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.Extensions.DependencyInjection;
using Polly.Registry;

namespace Csvol.Tests.Backends.Remote;

/// <summary>
/// One "host": the real plugin (<see cref="PluginHost"/>: Kestrel on its own socket, VolumeService, real mounts) with
/// <see cref="DirectoryBackend"/> on a remote directory that other hosts in the same test share.
/// </summary>
internal static class RemoteHost
{
    public static Task<PluginHost> StartAsync(string remote, RemoteFaults faults, VolumeServiceSettings? settings = null)
    {
        var volumeSettings = settings ?? new VolumeServiceSettings(
            "", CallDeadline: TimeSpan.FromSeconds(5), DiscoveryInterval: TimeSpan.FromMilliseconds(300), RepairInterval: TimeSpan.FromSeconds(1));
        return PluginHost.StartAsync(
            variables: new Dictionary<string, string?> { [CsvolSettings.BackendVariable] = DirectoryBackend.BackendName },
            configure: services =>
            {
                services.AddSingleton(sp => volumeSettings with { MountRoot = sp.GetRequiredService<CsvolDirectories>().MountRoot });
                services.AddBackendPipeline(DirectoryBackend.PipelineName, static _ => false, new BackendResilienceSettings
                {
                    AttemptTimeout = TimeSpan.FromSeconds(2),
                    OperationTimeout = TimeSpan.FromSeconds(20),
                    FirstRetryDelay = TimeSpan.FromMilliseconds(20),
                    MaxRetries = 2,
                });
                services.AddSingleton(new BackendRegistration(DirectoryBackend.BackendName, sp => new DirectoryBackend(
                    remote,
                    sp.GetRequiredService<IMounter>(),
                    sp.GetRequiredService<ResiliencePipelineProvider<string>>().GetPipeline(DirectoryBackend.PipelineName),
                    faults)));
            });
    }

    public static VolumeService Volumes(this PluginHost host) => host.Services.GetRequiredService<VolumeService>();

    public static string StateDir(this PluginHost host) => host.Settings.StateDir;
}
