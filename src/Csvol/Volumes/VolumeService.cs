using System.Collections.Concurrent;
using Csvol.Backends;
using Csvol.Mounting;

namespace Csvol.Volumes;

/// <summary>
/// What all backends share: names, options, one lock per volume, Docker's mount IDs counted per volume, refusal to
/// remove a volume in use, durable records, deadlines on every change, and the discovered volumes of a global
/// backend. Reads (Get, Path, List) are answered from memory and never wait for a lock or for the backend.
/// </summary>
/// <remarks>
/// Ordering is chosen so that a crash at any instant is repaired at start-up (VolumeService.Recovery.cs): Mount
/// mounts, then records the ID; Unmount forgets the ID, then unmounts. A crash in between leaves a mount that no ID
/// holds, which start-up removes (or the next Mount reuses), and never an ID whose mount is missing.
/// </remarks>
internal sealed partial class VolumeService
{
    private readonly IVolumeBackend _backend;
    private readonly IStateStore _store;
    private readonly IMounter _mounter;
    private readonly TimeProvider _time;
    private readonly ILogger<VolumeService> _logger;
    private readonly VolumeServiceSettings _settings;
    private readonly string _mountRoot;
    private readonly string _bootId;
    private readonly OptionNormalizer _options;
    private readonly ConvergingCalls _calls;
    private readonly KeyedLock _locks = new();
    private readonly ConcurrentDictionary<string, VolumeRecord> _volumes = new(StringComparer.Ordinal);
    private long _version;

    public VolumeService(
        IVolumeBackend backend,
        IStateStore store,
        IMounter mounter,
        VolumeServiceSettings settings,
        TimeProvider time,
        ILogger<VolumeService> logger,
        string? bootId = null)
    {
        _backend = backend;
        _store = store;
        _mounter = mounter;
        _settings = settings;
        _mountRoot = Path.TrimEndingDirectorySeparator(settings.MountRoot);
        _time = time;
        _logger = logger;
        _bootId = bootId ?? BootId.Current();
        _options = new OptionNormalizer(backend);
        _calls = new ConvergingCalls(settings.CallDeadline, time);
    }

    public string BackendName => _backend.Name;

    public VolumeScope Scope => _backend.Scope;

    /// <summary>Changes with every change to any volume, after the change is visible; answers derived from all volumes can be kept until it moves.</summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>Volumes with a record on this host (discovered ones not counted).</summary>
    public int Count => _volumes.Count;

    /// <summary>Option sets shared between records (for tests of the cache's upkeep).</summary>
    internal int SharedOptionSets => _options.SharedSets;

    public string MountpointOf(string name) => Path.Join(_mountRoot, name);

    public async Task CreateAsync(string? name, IReadOnlyDictionary<string, string>? rawOptions, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        var options = _options.Normalize(rawOptions);
        await ChangeAsync("Create", volumeName, OptionNormalizer.Describe(options.Stored),
            () => CreateLockedAsync(volumeName, options, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> CreateLockedAsync(string name, NormalizedOptions options, CancellationToken cancellationToken)
    {
        var existing = _volumes.TryGetValue(name, out var local) ? local : Discovered(name);
        if (existing is not null)
        {
            if (!OptionNormalizer.Same(existing.Options, options.Stored))
            {
                throw new VolumeException(
                    $"volume \"{name}\" already exists with options {OptionNormalizer.Describe(existing.Options)}, " +
                    $"not {OptionNormalizer.Describe(options.Stored)}; create it with the same options or remove it first");
            }

            if (local is null)
            {
                // Made on another host: this host keeps its own record from now on.
                Save(existing, Durability.PowerLoss);
                Publish(name, existing);
                LogAdoptedDiscovered(name);
            }

            return true;
        }

        var record = new VolumeRecord
        {
            Name = name,
            Backend = _backend.Name,
            Options = _options.Shared(options.Stored),
            CreatedAt = _time.GetUtcNow(),
        };
        var created = await _backend.CreateAsync(record, options.Secrets, cancellationToken).ConfigureAwait(false);
        if (created.Facts.Count > 0)
        {
            record = record with { Facts = new SortedDictionary<string, string>(created.Facts.ToDictionary(), StringComparer.Ordinal) };
        }

        try
        {
            Save(record, Durability.PowerLoss);
        }
        catch when (!created.Adopted)
        {
            // Only what this call made is taken away again; storage it found (data left by a crash, a volume made
            // elsewhere) stays, because csvol never deletes data on a guess.
            await UndoAsync(() => _backend.RemoveAsync(record, CancellationToken.None), name).ConfigureAwait(false);
            await UndoAsync(() => _backend.PurgeAsync(record, CancellationToken.None), name).ConfigureAwait(false);
            throw;
        }

        Publish(name, record);
        if (created.Adopted)
        {
            LogAdoptedStorage(name);
        }

        return true;
    }

    /// <summary>
    /// One change to one volume: after the records are loaded and this volume's restore is over, under its lock and
    /// under the call deadline; a repeat with the same <paramref name="operation"/>, volume and <paramref name="sameCall"/>
    /// joins the one in flight.
    /// </summary>
    private async Task<T> ChangeAsync<T>(
        string operation, string name, string sameCall, Func<Task<T>> locked, CancellationToken cancellationToken)
    {
        await _loaded.Task.ConfigureAwait(false);
        return await _calls.RunAsync($"{operation}\0{name}\0{sameCall}", $"{operation} of volume \"{name}\"", async () =>
        {
            await RestoredAsync(name).ConfigureAwait(false);
            using var held = await _locks.AcquireAsync(name, cancellationToken).ConfigureAwait(false);
            return await locked().ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    public async Task RemoveAsync(string? name, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        await ChangeAsync("Remove", volumeName, "", () => RemoveLockedAsync(volumeName, cancellationToken), cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task<bool> RemoveLockedAsync(string name, CancellationToken cancellationToken)
    {
        var record = _volumes.TryGetValue(name, out var local) ? local : Discovered(name);
        if (record is null)
        {
            // Already gone is what the caller wants; refusing would leave Docker with a volume it cannot drop.
            LogRemoveOfUnknown(name);
            return true;
        }

        if (record.IsMounted)
        {
            throw new VolumeException(
                $"volume \"{name}\" is in use: mounted for {record.MountIds.Length} container mount(s) " +
                $"(mount IDs {string.Join(", ", record.MountIds.Select(Short))}); stop the containers using it, then remove it");
        }

        await ReleaseLingeringMountAsync(record, cancellationToken).ConfigureAwait(false);
        await _backend.RemoveAsync(record, cancellationToken).ConfigureAwait(false);
        if (local is not null)
        {
            try
            {
                _store.Delete(name);
            }
            catch
            {
                // The record is still there, so the remove has not happened: the backend's start-up repair of an
                // interrupted remove puts the storage back now rather than at the next start.
                await UndoAsync(() => _backend.CheckAsync(record, CancellationToken.None), name).ConfigureAwait(false);
                throw;
            }
        }

        Forget(name);
        Undiscover(name);
        Publish(name, null);
        _options.Release(record.Options, _volumes.Values);
        await _backend.PurgeAsync(record, CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    public async Task<string> MountAsync(string? name, string? id, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        var mountId = RequireId(id, "Mount");
        return await ChangeAsync("Mount", volumeName, mountId, () => MountLockedAsync(volumeName, mountId, cancellationToken), cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task<string> MountLockedAsync(string name, string mountId, CancellationToken cancellationToken)
    {
        var record = _volumes.TryGetValue(name, out var local) ? local : Discovered(name) ?? throw NotFound(name);
        var mountpoint = MountpointOf(name);
        var mountedBefore = IsMountedAt(mountpoint);
        if (mountedBefore && await _backend.IsMountStaleAsync(record, mountpoint, cancellationToken).ConfigureAwait(false))
        {
            // Handing a stale mount to another container would give it only errors: mount it again first.
            LogMountStale(name);
            await _backend.UnmountAsync(record, mountpoint, cancellationToken).ConfigureAwait(false);
            mountedBefore = false;
        }

        if (!mountedBefore)
        {
            if (record.IsMounted)
            {
                // IDs are held but the mount is gone (unmounted by hand, a failed restore): never hand Docker an empty directory.
                LogMountMissing(name, record.MountIds.Length);
            }

            await _backend.MountAsync(record, mountpoint, cancellationToken).ConfigureAwait(false);
        }

        if (record.MountIds.Contains(mountId))
        {
            return mountpoint;
        }

        var updated = record.WithMountId(mountId, _bootId);
        try
        {
            Save(updated, local is null ? Durability.PowerLoss : Durability.ProcessCrash);
        }
        catch when (!record.IsMounted && !mountedBefore)
        {
            await UndoAsync(() => UnmountAndTidyAsync(record, mountpoint, CancellationToken.None), name).ConfigureAwait(false);
            throw;
        }

        Forget(name);
        Publish(name, updated);
        return mountpoint;
    }

    public async Task UnmountAsync(string? name, string? id, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        var mountId = RequireId(id, "Unmount");
        await ChangeAsync("Unmount", volumeName, mountId, () => UnmountLockedAsync(volumeName, mountId, cancellationToken), cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task<bool> UnmountLockedAsync(string name, string mountId, CancellationToken cancellationToken)
    {
        if (!_volumes.TryGetValue(name, out var record) || !record.MountIds.Contains(mountId))
        {
            // An ID we do not hold is already released: Docker may repeat an Unmount after a restart.
            LogUnmountOfUnknownId(name, Short(mountId));
            return true;
        }

        // Docker is done with this ID whatever happens next: it never repeats a failed Unmount. So the ID goes first,
        // and a mount that cannot be released now is retried in the background rather than held forever.
        var updated = record.WithoutMountId(mountId);
        Save(updated, Durability.ProcessCrash);
        Publish(name, updated);
        if (updated.IsMounted)
        {
            return true;
        }

        try
        {
            await UnmountAndTidyAsync(updated, MountpointOf(name), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Linger(name);
            LogReleaseFailed(ex, name, _settings.RepairInterval.TotalSeconds);
            throw new VolumeException(
                $"volume \"{name}\" is no longer held by any container, but releasing it failed: {Reason(ex)}; csvol tries " +
                $"again every {_settings.RepairInterval.TotalSeconds:0} s, and Remove waits until it succeeds", ex);
        }

        return true;
    }

    public async ValueTask<string> PathAsync(string? name)
    {
        var volumeName = VolumeName.Validate(name);
        var record = await ReadAsync(volumeName).ConfigureAwait(false);
        return record.IsMounted ? MountpointOf(volumeName) : "";
    }

    public async ValueTask<VolumeRecord> GetAsync(string? name)
    {
        var volumeName = VolumeName.Validate(name);
        return await ReadAsync(volumeName).ConfigureAwait(false);
    }

    /// <summary>Every volume: this host's records, then discovered ones it has no record of; read without locks or copies.</summary>
    public async ValueTask<IEnumerable<VolumeRecord>> ListAsync()
    {
        await _loaded.Task.ConfigureAwait(false);
        await FirstDiscoveryAsync().ConfigureAwait(false);
        return Records();
    }

    private IEnumerable<VolumeRecord> Records()
    {
        foreach (var (_, record) in _volumes)
        {
            yield return record;
        }

        foreach (var (name, record) in _discovered)
        {
            if (!_volumes.ContainsKey(name))
            {
                yield return record;
            }
        }
    }

    /// <summary>Backend facts for <c>docker volume inspect</c>'s Status.</summary>
    public void AddStatus(VolumeRecord record, IDictionary<string, string> status) => _backend.AddStatus(record, status);

    private async ValueTask<VolumeRecord> ReadAsync(string name)
    {
        await _loaded.Task.ConfigureAwait(false);
        if (_volumes.TryGetValue(name, out var record))
        {
            return record;
        }

        await FirstDiscoveryAsync().ConfigureAwait(false);
        return Discovered(name) ?? throw NotFound(name);
    }

    /// <summary>Makes a volume's new record (or its removal) visible, then moves <see cref="Version"/>.</summary>
    private void Publish(string name, VolumeRecord? record)
    {
        if (record is null)
        {
            _volumes.TryRemove(name, out _);
        }
        else
        {
            _volumes[name] = record;
        }

        Interlocked.Increment(ref _version);
    }

    private void Save(VolumeRecord record, Durability durability) => _store.Save(record, durability);

    private VolumeException NotFound(string name) =>
        new($"volume \"{name}\" not found: csvol/{_backend.Name} has no volume by that name");

    private static string RequireId(string? id, string operation) =>
        string.IsNullOrEmpty(id)
            ? throw new VolumeException($"{operation} request has no ID; Docker sends the container's mount ID with every {operation}")
            : id;

    private bool IsMountedAt(string mountpoint) => _mounter.Mountpoints().Contains(mountpoint);

    private async Task UnmountAndTidyAsync(VolumeRecord record, string mountpoint, CancellationToken cancellationToken)
    {
        await _backend.UnmountAsync(record, mountpoint, cancellationToken).ConfigureAwait(false);
        TryRemoveEmptyDirectory(mountpoint);
    }

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

    private static void TryRemoveEmptyDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: false);
        }
        catch (IOException)
        {
            // Not empty, still a mount point, or already gone: leave it; an empty directory is harmless.
        }
    }

    private static string Reason(Exception ex) => ex switch
    {
        MountBusyException busy => busy.Message + $"; find the holder with `fuser -vm {busy.Target}`",
        _ => ex.Message,
    };

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;
}
