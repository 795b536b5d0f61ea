using System.Collections.Concurrent;
using System.Globalization;
using Csvol.Backends.Local;
using Csvol.Linux;
using Csvol.Mounting;
using Csvol.Volumes;

namespace Csvol.Backends.Nfs;

/// <summary>
/// <c>csvol/nfs</c>: one subdirectory of an NFS export per Docker volume, mounted with the kernel's NFS client on each
/// host that uses it. A marker beside the subdirectory (<see cref="NfsMarker"/>) makes it visible to every host and
/// says whether csvol made it (Remove deletes it) or adopted it (Remove keeps it).
/// </summary>
/// <remarks>
/// Every step that can block on the server runs under the <see cref="Watchdog"/> (CSVOL_NFS_TIMEOUT each): a dead
/// server makes Create, Remove, Mount and Unmount fail in bounded time with an Err naming it, and never stalls Get or
/// List, which the core answers from the last discovered set. The export's root is mounted only briefly, in a private
/// directory, for Create, Remove and discovery.
/// </remarks>
internal sealed partial class NfsBackend : IVolumeBackend
{
    public const string BackendName = "nfs";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode DefaultMode = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Deleting a removed volume's tree may take long; it runs after Remove has answered.</summary>
    private static readonly TimeSpan PurgeBound = TimeSpan.FromMinutes(30);

    private readonly NfsSettings _settings;
    private readonly Watchdog _watchdog;
    private readonly NfsClient _client;
    private readonly IMounter _mounter;
    private readonly TimeProvider _time;
    private readonly ILogger<NfsBackend> _logger;
    private readonly string _workRoot;
    private readonly ConcurrentDictionary<NfsExport, bool> _exports = new();
    private readonly ConcurrentDictionary<NfsExport, List<DiscoveredVolume>> _listed = new();
    private readonly ConcurrentDictionary<string, string> _mountpoints = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _usage = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _usageReading = new(StringComparer.Ordinal);

    public NfsBackend(NfsSettings settings, string stateDirectory, IMounter mounter, TimeProvider time, ILogger<NfsBackend> logger)
    {
        _settings = settings;
        _time = time;
        _logger = logger;
        _mounter = mounter;
        _watchdog = new Watchdog(time);
        _client = new NfsClient(_watchdog, mounter, settings.StepTimeout, logger);
        _workRoot = Path.Join(stateDirectory, "nfs");
        Directory.CreateDirectory(_workRoot, OwnerOnly);
        File.SetUnixFileMode(_workRoot, OwnerOnly);
        Options = NfsOptions.Specs(settings);
        if (settings.DefaultExport is { } export)
        {
            _exports[export] = true;
        }
    }

    public string Name => BackendName;

    public VolumeScope Scope => VolumeScope.Global;

    public IReadOnlyList<VolumeOptionSpec> Options { get; }

    public string? CheckCombination(IReadOnlyDictionary<string, string> options) => NfsOptions.CheckCombination(options);

    public async Task<CreateResult> CreateAsync(VolumeRecord volume, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken)
    {
        var location = Locate(volume);
        await using var root = await MountRootAsync(location.Export, volume, cancellationToken).ConfigureAwait(false);
        var markerPath = MarkerPath(volume.Name);
        if (await ReadMarkerAsync(root, volume.Name, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return SameVolume(existing, volume, root)
                ? CreateResult.Found
                : throw new VolumeException(
                    $"{root.Remote(markerPath)} says csvol volume \"{volume.Name}\" exists there with options " +
                    $"{OptionNormalizer.Describe(existing.Options)}, not {OptionNormalizer.Describe(volume.Options)}; create it with the same options or remove it first");
        }

        var made = await root.StepAsync("create", location.Subdir, () =>
        {
            var path = root.Local(location.Subdir);
            if (Directory.Exists(path))
            {
                return false;
            }

            // Parents of a nested subdir are plain 0755 directories; the volume's own is closed until its owner and mode are set.
            Directory.CreateDirectory(Path.GetDirectoryName(path)!, DefaultMode);
            Directory.CreateDirectory(path, OwnerOnly);
            return true;
        }, cancellationToken).ConfigureAwait(false);

        try
        {
            if (made)
            {
                await SetOwnerAndModeAsync(root, location.Subdir, volume.Options, cancellationToken).ConfigureAwait(false);
            }

            await WriteMarkerAsync(root, new NfsMarker
            {
                Volume = volume.Name,
                Subdir = location.Subdir,
                Made = made,
                CreatedAt = volume.CreatedAt,
                Host = Environment.MachineName,
                Options = volume.Options,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch when (made)
        {
            // Only the empty directory this call made goes again; the Err says why.
            await UndoAsync(() => root.StepAsync("remove", location.Subdir, () => Directory.Delete(root.Local(location.Subdir)), CancellationToken.None),
                volume.Name).ConfigureAwait(false);
            throw;
        }

        Remember(location.Export);
        LogCreated(volume.Name, location.Source, made ? "made" : "adopted");
        return made ? CreateResult.Made : CreateResult.Found;
    }

    public async Task RemoveAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        var location = Locate(volume);
        await using var root = await MountRootAsync(location.Export, volume, cancellationToken).ConfigureAwait(false);
        var marker = await ReadMarkerAsync(root, volume.Name, cancellationToken).ConfigureAwait(false);
        if (marker is null)
        {
            return; // removed on another host, or never written: a directory without csvol's marker is never deleted
        }

        if (marker.Made && marker.Subdir == location.Subdir)
        {
            var trashed = Path.Join(NfsMarker.Directory, NfsMarker.TrashDirectory,
                volume.Name + "~" + _time.GetUtcNow().UtcTicks.ToString(CultureInfo.InvariantCulture));
            await root.StepAsync("move into csvol's trash", location.Subdir, () =>
            {
                Directory.CreateDirectory(root.TrashDirectory, OwnerOnly);
                if (Directory.Exists(root.Local(location.Subdir)))
                {
                    Directory.Move(root.Local(location.Subdir), root.Local(trashed));
                }
            }, cancellationToken).ConfigureAwait(false);
        }

        // The marker goes last: once it is gone, no host lists the volume any more.
        await root.StepAsync("delete the marker", MarkerPath(volume.Name), () => File.Delete(root.Local(MarkerPath(volume.Name))), cancellationToken)
            .ConfigureAwait(false);
        LogRemoved(volume.Name, location.Source, marker.Made ? "moved to trash" : "released (adopted, kept)");
    }

    /// <summary>Deletes what Remove moved into the trash, in the background: a large tree takes longer than Docker waits.</summary>
    public Task PurgeAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        var location = Locate(volume);
        _ = Task.Run(async () =>
        {
            try
            {
                await using var root = await MountRootAsync(location.Export, volume, CancellationToken.None).ConfigureAwait(false);
                await _watchdog.RunAsync(() =>
                {
                    if (!Directory.Exists(root.TrashDirectory))
                    {
                        return;
                    }

                    foreach (var trashed in Directory.EnumerateDirectories(root.TrashDirectory, volume.Name + "~*"))
                    {
                        if (SafeTree.Delete(trashed) is { Count: > 0 } left)
                        {
                            LogTrashLeft(trashed, string.Join(", ", left));
                        }
                    }
                }, PurgeBound, () => NfsErrors.NotAnswering(location.Export.Server, "empty csvol's trash in", root.Remote(NfsMarker.Directory), PurgeBound),
                    CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogPurgeFailed(ex, volume.Name, location.Export.Source(Path.Join(NfsMarker.Directory, NfsMarker.TrashDirectory)));
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task MountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        var location = Locate(volume);
        Directory.CreateDirectory(mountpoint);
        await _client.UnmountAsync(location.Export.Server, mountpoint, cancellationToken).ConfigureAwait(false); // never stack mounts
        await _client.MountAsync(location.Export, location.Source, mountpoint, MountOptionsOf(volume), cancellationToken).ConfigureAwait(false);
        _mountpoints[volume.Name] = mountpoint;
        Remember(location.Export);
        ReadUsageInBackground(volume.Name, mountpoint);
    }

    public async Task UnmountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        await _client.UnmountAsync(Locate(volume).Export.Server, mountpoint, cancellationToken).ConfigureAwait(false);
        _ = _mountpoints.TryRemove(volume.Name, out _);
        _ = _usage.TryRemove(volume.Name, out _);
    }

    /// <summary>
    /// Asks the server (not the client's cache) about the mounted directory before the mount is handed to another
    /// container: a stale handle (deleted or replaced on the server) means mount again; no answer within the bound is an Err.
    /// </summary>
    public async Task<bool> IsMountStaleAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        var location = Locate(volume);
        var errno = await _client.ProbeDirectoryAsync(location.Export.Server, mountpoint, cancellationToken).ConfigureAwait(false);
        switch (errno)
        {
            case 0:
                return false;
            case Libc.ESTALE:
                LogStale(volume.Name, location.Source, mountpoint);
                return true;
            default:
                throw new VolumeException(
                    $"the NFS mount of {location.Source} at {mountpoint} does not work: {new ErrnoException("stat", errno).Message}");
        }
    }

    public async Task<BackingState> CheckAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        var location = Locate(volume);
        try
        {
            await using var root = await MountRootAsync(location.Export, volume, cancellationToken).ConfigureAwait(false);
            return await ReadMarkerAsync(root, volume.Name, cancellationToken).ConfigureAwait(false) is not null
                ? BackingState.Present
                : BackingState.Gone;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Only a marker that a reachable export lacks is Gone; a server that does not answer says nothing.
            LogCheckFailed(ex, volume.Name, location.Source);
            return BackingState.Unknown;
        }
    }

    /// <summary>
    /// Remembers the records' exports for discovery, and unmounts export roots a crash left mounted in the work
    /// directory (a Create, Remove or discovery that never finished).
    /// </summary>
    public async Task CollectGarbageAsync(IReadOnlyCollection<VolumeRecord> volumes, CancellationToken cancellationToken)
    {
        foreach (var volume in volumes)
        {
            Remember(Locate(volume).Export);
        }

        foreach (var leftover in _mounter.Mountpoints().Where(m => Path.GetDirectoryName(m) == _workRoot))
        {
            try
            {
                await _client.UnmountAsync("(left by a crash)", leftover, cancellationToken).ConfigureAwait(false);
                Directory.Delete(leftover);
            }
            catch (Exception ex) when (ex is IOException or VolumeException)
            {
                LogLeftoverNotUnmounted(ex, leftover);
            }
        }
    }

    private static NfsLocation Locate(VolumeRecord volume) => NfsOptions.LocationOf(volume.Name, volume.Options);

    /// <summary>
    /// Discovery lists <paramref name="export"/> from now on: it holds a volume this host created, mounted or has a record
    /// of. Never an export a Create only tried (a typo would otherwise be listed, and fail, forever).
    /// </summary>
    private void Remember(NfsExport export) => _exports.TryAdd(export, true);

    private Task<ExportRoot> MountRootAsync(NfsExport export, VolumeRecord volume, CancellationToken cancellationToken) =>
        ExportRoot.MountAsync(_client, _workRoot, export, _settings.Options, volume.Options.GetValueOrDefault(NfsOptions.MountOptions), cancellationToken);

    private async Task UndoAsync(Func<Task> undo, string volume)
    {
        try
        {
            await undo().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogUndoFailed(ex, volume);
        }
    }
}
