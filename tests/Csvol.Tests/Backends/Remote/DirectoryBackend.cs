using System.Text.Json;
using Csvol.Backends;
using Csvol.Linux;
using Csvol.Mounting;
using Csvol.Volumes;
using Polly;

namespace Csvol.Tests.Backends.Remote;

/// <summary>
/// A "remote" storage backend for testing the core: a directory that several csvol instances share, as hosts share
/// a cloud account or an NFS export. Each volume is <c>&lt;remote&gt;/&lt;name&gt;/</c> holding <c>volume.json</c>
/// (options, creation time and the id the "remote" assigned) and <c>data/</c>, which Mount bind-mounts. Every remote
/// call goes through the backend's Polly pipeline and through <see cref="RemoteFaults"/>.
/// </summary>
internal sealed class DirectoryBackend(string remoteRoot, IMounter mounter, ResiliencePipeline pipeline, RemoteFaults faults) : IVolumeBackend
{
    public const string BackendName = "dirremote";
    public const string PipelineName = "csvol-dirremote";
    private const string DescriptorFile = "volume.json";

    public string Name => BackendName;

    public VolumeScope Scope => VolumeScope.Global;

    public IReadOnlyList<VolumeOptionSpec> Options { get; } =
    [
        VolumeOptionSpec.Choice("tier", "how fast the remote storage is", "slow", "slow", "fast"),
        VolumeOptionSpec.SecretText("token", "a credential the remote wants at create time"),
    ];

    public string? CheckCombination(IReadOnlyDictionary<string, string> options) => null;

    public string DataOf(string name) => Path.Join(remoteRoot, name, "data");

    public Task<CreateResult> CreateAsync(VolumeRecord volume, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken) =>
        RemoteAsync("Create", volume.Name, cancellationToken, () =>
        {
            var descriptor = Path.Join(remoteRoot, volume.Name, DescriptorFile);
            if (Read(descriptor) is { } existing)
            {
                return new CreateResult(new Dictionary<string, string> { ["id"] = existing.Id }, Adopted: true);
            }

            Directory.CreateDirectory(DataOf(volume.Name));
            var id = "rv-" + Guid.NewGuid().ToString("N")[..10];
            File.WriteAllText(descriptor, JsonSerializer.Serialize(new Descriptor(id, volume.Options, volume.CreatedAt)));
            return new CreateResult(new Dictionary<string, string> { ["id"] = id }, Adopted: false);
        });

    public Task RemoveAsync(VolumeRecord volume, CancellationToken cancellationToken) =>
        RemoteAsync("Remove", volume.Name, cancellationToken, () =>
        {
            var dir = Path.Join(remoteRoot, volume.Name);
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }

            return true;
        });

    public Task PurgeAsync(VolumeRecord volume, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task MountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken) =>
        RemoteAsync("Mount", volume.Name, cancellationToken, () =>
        {
            var data = DataOf(volume.Name);
            if (!Directory.Exists(data))
            {
                throw new VolumeException($"remote volume \"{volume.Name}\" does not exist any more");
            }

            Directory.CreateDirectory(mountpoint);
            mounter.Mount(data, mountpoint, null, MountFlags.Bind, null);
            return true;
        });

    public Task UnmountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken) =>
        RemoteAsync("Unmount", volume.Name, cancellationToken, () =>
        {
            mounter.Unmount(mountpoint);
            return true;
        });

    public async Task<BackingState> CheckAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        try
        {
            return await RemoteAsync("Check", volume.Name, cancellationToken, () =>
                Read(Path.Join(remoteRoot, volume.Name, DescriptorFile)) is { } found && found.Id == volume.Facts.GetValueOrDefault("id")
                    ? BackingState.Present
                    : BackingState.Gone);
        }
        catch (Exception ex) when (ex is BackendUnavailableException || Csvol.Resilience.BackendResilience.IsPipelineRefusal(ex))
        {
            return BackingState.Unknown;
        }
    }

    public Task CollectGarbageAsync(IReadOnlyCollection<VolumeRecord> volumes, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<IReadOnlyList<DiscoveredVolume>?> DiscoverAsync(CancellationToken cancellationToken) =>
        RemoteAsync<IReadOnlyList<DiscoveredVolume>?>("Discover", null, cancellationToken, () =>
        [
            .. Directory.EnumerateDirectories(remoteRoot)
                .Select(dir => (Name: Path.GetFileName(dir), Found: Read(Path.Join(dir, DescriptorFile))))
                .Where(v => v.Found is not null)
                .Select(v => new DiscoveredVolume(v.Name, v.Found!.Options, new Dictionary<string, string> { ["id"] = v.Found.Id }, v.Found.CreatedAt)),
        ]);

    public void AddStatus(VolumeRecord volume, IDictionary<string, string> status) =>
        status["id"] = volume.Facts.GetValueOrDefault("id") ?? "(none)";

    private async Task<T> RemoteAsync<T>(string operation, string? volume, CancellationToken cancellationToken, Func<T> work) =>
        await pipeline.ExecuteAsync(
            async token =>
            {
                await faults.EnterAsync(operation, volume, token);
                return work();
            },
            cancellationToken);

    private static Descriptor? Read(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize<Descriptor>(File.ReadAllText(path)) : null;

    private sealed record Descriptor(string Id, SortedDictionary<string, string> Options, DateTimeOffset CreatedAt);
}
