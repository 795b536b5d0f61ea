using Csvol.Volumes;

namespace Csvol.Backends;

/// <summary>Docker's scope: whether every host sees the same volumes (cloud, NFS) or each has its own.</summary>
internal enum VolumeScope
{
    Local,
    Global,
}

/// <summary>Whether a volume's backing storage is still where its record says.</summary>
internal enum BackingState
{
    Present,

    /// <summary>A definite answer that the storage no longer exists: the only state that drops a record.</summary>
    Gone,

    /// <summary>The backend could not tell (timeout, 5xx, network): the record and its data are kept.</summary>
    Unknown,
}

/// <summary>What Create left: facts the backend assigned, and whether it made the storage or found it there.</summary>
/// <param name="Facts">Stored in the record and handed back on every later call (a cloud volume id, an export path).</param>
/// <param name="Adopted">
/// True when the storage already existed (left by a crash, made on another host): a Create that fails after this
/// must not remove it, because this call did not make it.
/// </param>
internal sealed record CreateResult(IReadOnlyDictionary<string, string> Facts, bool Adopted)
{
    public static readonly CreateResult Made = new(VolumeRecord.NoFacts, Adopted: false);

    public static readonly CreateResult Found = new(VolumeRecord.NoFacts, Adopted: true);
}

/// <summary>A volume the backend holds, as another host (or an earlier life of this one) made it.</summary>
internal sealed record DiscoveredVolume(
    string Name,
    IReadOnlyDictionary<string, string> Options,
    IReadOnlyDictionary<string, string> Facts,
    DateTimeOffset CreatedAt);

/// <summary>
/// A storage backend. <see cref="VolumeService"/> does everything the backends share (names, option validation,
/// locking, mount reference counts, state, deadlines, discovery caching); a backend only turns one volume's storage
/// on and off. Backends never see reference counts: they are asked to mount once and unmount once per host.
/// </summary>
/// <remarks>
/// Every method may be repeated after a crash or a timed-out call and must converge (no second volume, no second
/// attachment). Transient failures are thrown as <see cref="BackendUnavailableException"/>; everything the user must
/// act on as <see cref="VolumeException"/> with words that say what to do.
/// </remarks>
internal interface IVolumeBackend
{
    string Name { get; }

    VolumeScope Scope { get; }

    IReadOnlyList<VolumeOptionSpec> Options { get; }

    /// <summary>Rules across options (e.g. "size needs type=tmpfs"); null when the set is consistent.</summary>
    string? CheckCombination(IReadOnlyDictionary<string, string> options);

    /// <summary>
    /// Makes the storage exist, or adopts storage of this name that already does. <paramref name="secrets"/> holds the
    /// options marked secret, which are never in <paramref name="volume"/> (nor in any record, log line or Err).
    /// </summary>
    Task<CreateResult> CreateAsync(VolumeRecord volume, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken);

    /// <summary>
    /// Detaches the storage from the name in one step that either happens or does not; what is left to clean up
    /// is done by <see cref="PurgeAsync"/> once the record is gone.
    /// </summary>
    Task RemoveAsync(VolumeRecord volume, CancellationToken cancellationToken);

    /// <summary>Frees what <see cref="RemoveAsync"/> left behind; failures are logged, not thrown.</summary>
    Task PurgeAsync(VolumeRecord volume, CancellationToken cancellationToken);

    /// <summary>Makes the storage appear at <paramref name="mountpoint"/> (attach, format if new, mount), creating the directory.</summary>
    Task MountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken);

    /// <summary>
    /// Asked before a mount already in place is handed to another container: true when it no longer works and must be
    /// mounted again (a network file system's stale handle). Must be bounded in time; a storage that cannot answer is an
    /// exception, not true. Local storage cannot go stale.
    /// </summary>
    Task<bool> IsMountStaleAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken) => Task.FromResult(false);

    /// <summary>Takes it away again (unmount, detach), so that another host can take it.</summary>
    Task UnmountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken);

    /// <summary>Is the record's storage there? May repair an interrupted remove. Unknown when it cannot tell.</summary>
    Task<BackingState> CheckAsync(VolumeRecord volume, CancellationToken cancellationToken);

    /// <summary>At start-up, after every record was checked: collect what belongs to no volume.</summary>
    Task CollectGarbageAsync(IReadOnlyCollection<VolumeRecord> volumes, CancellationToken cancellationToken);

    /// <summary>
    /// Every volume the backend holds for this cluster (by tag, marker file, …), for scope <see cref="VolumeScope.Global"/>;
    /// null for a backend whose volumes exist only in this host's records. A slow or failing call is fine: the caller
    /// caches the last answer and never makes Docker wait for it.
    /// </summary>
    Task<IReadOnlyList<DiscoveredVolume>?> DiscoverAsync(CancellationToken cancellationToken);

    /// <summary>Backend facts for <c>docker volume inspect</c>; must be cheap (no I/O that can block).</summary>
    void AddStatus(VolumeRecord volume, IDictionary<string, string> status);
}

/// <summary>The backend could not be reached or did not answer in time; nothing is known to have changed.</summary>
internal sealed class BackendUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
