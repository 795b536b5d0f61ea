using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Globalization;
using Csvol.Mounting;
using Csvol.Backends;

namespace Csvol.Volumes;

/// <summary>
/// What all backends share: names, option validation, one lock per volume, Docker's mount IDs counted per
/// volume, refusal to remove a volume in use, and durable state. Reads (Get, Path, List) are answered from
/// memory and never wait for a lock or for the backend.
/// </summary>
/// <remarks>
/// Ordering is chosen so that a crash at any instant is repaired by <see cref="InitializeAsync"/>:
/// Mount mounts, then records the ID; Unmount forgets the ID, then unmounts. A crash in between leaves a
/// mount that no ID holds, which start-up removes, and never an ID whose mount is missing.
/// </remarks>
internal sealed partial class VolumeService
{
    private readonly IVolumeBackend _backend;
    private readonly IStateStore _store;
    private readonly IMounter _mounter;
    private readonly TimeProvider _time;
    private readonly ILogger<VolumeService> _logger;
    private readonly string _mountRoot;
    private readonly KeyedLock _locks = new();
    private readonly ConcurrentDictionary<string, VolumeRecord> _volumes = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly FrozenDictionary<string, VolumeOptionSpec> _optionSpecs;
    private readonly string _validOptions;
    private readonly ConcurrentDictionary<string, SortedDictionary<string, string>> _optionSets = new(StringComparer.Ordinal);
    private long _version;

    public VolumeService(
        IVolumeBackend backend,
        IStateStore store,
        IMounter mounter,
        string mountRoot,
        TimeProvider time,
        ILogger<VolumeService> logger)
    {
        _backend = backend;
        _store = store;
        _mounter = mounter;
        _mountRoot = Path.TrimEndingDirectorySeparator(mountRoot);
        _time = time;
        _logger = logger;
        DriverName = "csvol/" + backend.Name;
        _optionSpecs = backend.Options.ToFrozenDictionary(o => o.Name, StringComparer.Ordinal);
        _validOptions = backend.Options.Count == 0
            ? "it takes no options"
            : "valid options: " + string.Join(", ", backend.Options.Select(o => o.Name).Order(StringComparer.Ordinal));
    }

    public string DriverName { get; }

    /// <summary>Changes with every change to any volume, after the change is visible; answers derived from all volumes can be kept until it moves.</summary>
    public long Version => Volatile.Read(ref _version);

    public string Scope => _backend.Scope == VolumeScope.Global ? "global" : "local";

    public int Count => _volumes.Count;

    public string MountpointOf(string name) => Path.Join(_mountRoot, name);

    /// <summary>Loads state and reconciles it with the mount table. Every call waits for this.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(_mountRoot);
            var records = await LoadCheckedRecordsAsync(cancellationToken).ConfigureAwait(false);
            var mountpoints = _mounter.Mountpoints();
            foreach (var loaded in records)
            {
                var record = loaded with { Backend = _backend.Name, Options = Shared(loaded.Options) };
                Publish(record.Name, await RestoreMountAsync(record, mountpoints, cancellationToken).ConfigureAwait(false));
            }

            RemoveStaleMounts(mountpoints);
            await _backend.CollectGarbageAsync([.. _volumes.Values], cancellationToken).ConfigureAwait(false);
            LogReady(_volumes.Count, _volumes.Values.Count(v => v.IsMounted));
            ReleaseLoadGarbage(records.Count);
            _ready.TrySetResult();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogInitializationFailed(ex);
            _ready.TrySetException(new VolumeException(
                $"csvol could not load its state: {ex.Message}; fix the cause shown in the plugin log and restart the plugin", ex));
        }
    }

    /// <summary>
    /// Reading thousands of records leaves megabytes of parse garbage that the GC, unprompted, keeps as resident
    /// memory for the life of the plugin; one compacting collection after a large load gives it back.
    /// </summary>
    private static void ReleaseLoadGarbage(int loaded)
    {
        if (loaded >= 1000)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
    }

    private async Task<List<VolumeRecord>> LoadCheckedRecordsAsync(CancellationToken cancellationToken)
    {
        var result = new List<VolumeRecord>();
        foreach (var record in _store.LoadAll())
        {
            if (record.Backend != _backend.Name)
            {
                LogForeignRecord(record.Name, record.Backend, _backend.Name);
                continue;
            }

            if (await _backend.CheckAsync(record, cancellationToken).ConfigureAwait(false) == BackingState.Gone)
            {
                // Only a remove that was past its point of no return leaves a record without storage.
                _store.Delete(record.Name);
                LogCompletedInterruptedRemove(record.Name);
                continue;
            }

            result.Add(record);
        }

        return result;
    }

    private async Task<VolumeRecord> RestoreMountAsync(
        VolumeRecord record, IReadOnlySet<string> mountpoints, CancellationToken cancellationToken)
    {
        var mountpoint = MountpointOf(record.Name);
        if (!record.IsMounted || mountpoints.Contains(mountpoint))
        {
            return record;
        }

        // Docker still holds these IDs and will Unmount them later; give them their mount back.
        try
        {
            await _backend.MountAsync(record, mountpoint, cancellationToken).ConfigureAwait(false);
            LogRemounted(record.Name, record.MountIds.Length);
            return record;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRemountFailed(ex, record.Name);
            var released = record with { MountIds = [] };
            _store.Save(released);
            return released;
        }
    }

    private void RemoveStaleMounts(IReadOnlySet<string> mountpoints)
    {
        foreach (var mountpoint in mountpoints)
        {
            if (Path.GetDirectoryName(mountpoint) != _mountRoot)
            {
                continue;
            }

            var name = Path.GetFileName(mountpoint);
            if (_volumes.TryGetValue(name, out var record) && record.IsMounted)
            {
                continue;
            }

            _mounter.Unmount(mountpoint);
            TryRemoveEmptyDirectory(mountpoint);
            LogStaleMountRemoved(mountpoint);
        }
    }

    public async Task CreateAsync(string? name, IReadOnlyDictionary<string, string>? rawOptions, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        var options = NormalizeOptions(rawOptions);
        await _ready.Task.ConfigureAwait(false);
        using var held = await _locks.AcquireAsync(volumeName, cancellationToken).ConfigureAwait(false);

        if (_volumes.TryGetValue(volumeName, out var existing))
        {
            if (existing.Options.Count == options.Count && !existing.Options.Except(options).Any())
            {
                return;
            }

            throw new VolumeException(
                $"volume \"{volumeName}\" already exists with options {Describe(existing.Options)}, not {Describe(options)}; " +
                "create it with the same options or remove it first");
        }

        var record = new VolumeRecord
        {
            Name = volumeName,
            Backend = _backend.Name,
            Options = Shared(options),
            CreatedAt = _time.GetUtcNow(),
        };
        await _backend.CreateAsync(record, cancellationToken).ConfigureAwait(false);
        try
        {
            _store.Save(record);
        }
        catch
        {
            await UndoAsync(() => _backend.RemoveAsync(record, CancellationToken.None), volumeName).ConfigureAwait(false);
            await UndoAsync(() => _backend.PurgeAsync(record, CancellationToken.None), volumeName).ConfigureAwait(false);
            throw;
        }

        Publish(volumeName, record);
    }

    public async Task RemoveAsync(string? name, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        await _ready.Task.ConfigureAwait(false);
        using var held = await _locks.AcquireAsync(volumeName, cancellationToken).ConfigureAwait(false);

        if (!_volumes.TryGetValue(volumeName, out var record))
        {
            // Already gone is what the caller wants; refusing would leave Docker with a volume it cannot drop.
            LogRemoveOfUnknown(volumeName);
            return;
        }

        if (record.IsMounted)
        {
            throw new VolumeException(
                $"volume \"{volumeName}\" is in use: mounted for {record.MountIds.Length} container mount(s) " +
                $"(mount IDs {string.Join(", ", record.MountIds.Select(Short))}); stop the containers using it, then remove it");
        }

        await _backend.RemoveAsync(record, cancellationToken).ConfigureAwait(false);
        _store.Delete(volumeName);
        Publish(volumeName, null);
        await _backend.PurgeAsync(record, CancellationToken.None).ConfigureAwait(false);
    }

    public async Task<string> MountAsync(string? name, string? id, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        var mountId = RequireId(id, "Mount");
        await _ready.Task.ConfigureAwait(false);
        using var held = await _locks.AcquireAsync(volumeName, cancellationToken).ConfigureAwait(false);

        var record = Existing(volumeName);
        var mountpoint = MountpointOf(volumeName);
        if (record.MountIds.Contains(mountId))
        {
            return mountpoint;
        }

        var firstMount = !record.IsMounted;
        if (firstMount)
        {
            await _backend.MountAsync(record, mountpoint, cancellationToken).ConfigureAwait(false);
        }

        var updated = record.WithMountId(mountId);
        try
        {
            _store.Save(updated);
        }
        catch when (firstMount)
        {
            await UndoAsync(() => UnmountAndTidyAsync(record, mountpoint), volumeName).ConfigureAwait(false);
            throw;
        }

        Publish(volumeName, updated);
        return mountpoint;
    }

    public async Task UnmountAsync(string? name, string? id, CancellationToken cancellationToken)
    {
        var volumeName = VolumeName.Validate(name);
        var mountId = RequireId(id, "Unmount");
        await _ready.Task.ConfigureAwait(false);
        using var held = await _locks.AcquireAsync(volumeName, cancellationToken).ConfigureAwait(false);

        if (!_volumes.TryGetValue(volumeName, out var record) || !record.MountIds.Contains(mountId))
        {
            // An ID we do not hold is already released: Docker may repeat an Unmount after a restart.
            LogUnmountOfUnknownId(volumeName, Short(mountId));
            return;
        }

        var updated = record.WithoutMountId(mountId);
        _store.Save(updated);
        if (!updated.IsMounted)
        {
            try
            {
                await UnmountAndTidyAsync(record, MountpointOf(volumeName), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                _store.Save(record); // still mounted, so still held
                throw;
            }
        }

        Publish(volumeName, updated);
    }

    public async ValueTask<string> PathAsync(string? name)
    {
        var volumeName = VolumeName.Validate(name);
        await _ready.Task.ConfigureAwait(false);
        return Existing(volumeName).IsMounted ? MountpointOf(volumeName) : "";
    }

    public async ValueTask<VolumeRecord> GetAsync(string? name)
    {
        var volumeName = VolumeName.Validate(name);
        await _ready.Task.ConfigureAwait(false);
        return Existing(volumeName);
    }

    /// <summary>Every volume, read without locks or a snapshot copy (the map's <c>Values</c> copies all 10,000 under every lock).</summary>
    public async ValueTask<IEnumerable<VolumeRecord>> ListAsync()
    {
        await _ready.Task.ConfigureAwait(false);
        return Records();
    }

    private IEnumerable<VolumeRecord> Records()
    {
        foreach (var (_, record) in _volumes)
        {
            yield return record;
        }
    }

    /// <summary>Fills <paramref name="status"/> with what <c>docker volume inspect</c> shows under Status.</summary>
    public void AddStatus(VolumeRecord record, IDictionary<string, string> status)
    {
        status["driver"] = DriverName;
        status["mounts"] = record.MountIds.Length.ToString(CultureInfo.InvariantCulture);
        _backend.AddStatus(record, status);
    }

    private SortedDictionary<string, string> NormalizeOptions(IReadOnlyDictionary<string, string>? raw)
    {
        var normalized = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (raw is not null)
        {
            var unknown = raw.Keys.Where(k => !_optionSpecs.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
            {
                var noun = unknown.Count == 1 ? "option" : "options";
                throw new VolumeException(
                    $"unknown {noun} {string.Join(", ", unknown.Select(u => $"\"{u}\""))} for {DriverName}; {_validOptions}");
            }

            foreach (var (key, value) in raw)
            {
                var spec = _optionSpecs[key];
                var parsed = spec.Normalize(value ?? "");
                normalized[key] = parsed.Value ?? throw new VolumeException(
                    $"invalid value \"{value}\" for option \"{key}\": expected {parsed.Expected}");
            }
        }

        foreach (var spec in _backend.Options)
        {
            if (spec.Default is { } fallback)
            {
                normalized.TryAdd(spec.Name, fallback);
            }
        }

        if (_backend.CheckCombination(normalized) is { } conflict)
        {
            throw new VolumeException(conflict);
        }

        return normalized;
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

    /// <summary>
    /// One options instance per distinct set: volumes made alike (a compose file, a fleet script) share it rather
    /// than each holding a copy. Records never change their options, so sharing is safe.
    /// </summary>
    private SortedDictionary<string, string> Shared(SortedDictionary<string, string> options) =>
        _optionSets.GetOrAdd(string.Join('\n', options.Select(o => o.Key + "=" + o.Value)), options);

    private VolumeRecord Existing(string name) =>
        _volumes.TryGetValue(name, out var record)
            ? record
            : throw new VolumeException($"volume \"{name}\" not found: {DriverName} has no volume by that name");

    private static string RequireId(string? id, string operation) =>
        string.IsNullOrEmpty(id)
            ? throw new VolumeException($"{operation} request has no ID; Docker sends the container's mount ID with every {operation}")
            : id;

    private async Task UnmountAndTidyAsync(VolumeRecord record, string mountpoint, CancellationToken cancellationToken = default)
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
            // Not empty or already gone: leave it; an empty directory is harmless.
        }
    }

    private static string Describe(IReadOnlyDictionary<string, string> options) =>
        options.Count == 0 ? "(none)" : string.Join(",", options.Select(o => $"{o.Key}={o.Value}"));

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;

    [LoggerMessage(Level = LogLevel.Information, Message = "State loaded: {Volumes} volumes, {Mounted} mounted")]
    private partial void LogReady(int volumes, int mounted);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Could not load state; every call will fail until restart")]
    private partial void LogInitializationFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Record of volume {Volume} belongs to backend {Owner}, not {Backend}; ignored")]
    private partial void LogForeignRecord(string volume, string owner, string backend);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume} had no storage left: completed its interrupted remove")]
    private partial void LogCompletedInterruptedRemove(string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume} was held by {Ids} mount IDs but not mounted: mounted it again")]
    private partial void LogRemounted(string volume, int ids);

    [LoggerMessage(Level = LogLevel.Error, Message = "Volume {Volume} could not be mounted again at start-up; released its mount IDs")]
    private partial void LogRemountFailed(Exception exception, string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Unmounted {Mountpoint}: no mount ID held it (left by a crash)")]
    private partial void LogStaleMountRemoved(string mountpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Remove of unknown volume {Volume}: nothing to do")]
    private partial void LogRemoveOfUnknown(string volume);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unmount of {Volume} with ID {Id} that holds no mount: nothing to do")]
    private partial void LogUnmountOfUnknownId(string volume, string id);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not undo a half-done change to volume {Volume}")]
    private partial void LogUndoFailed(Exception exception, string volume);
}
