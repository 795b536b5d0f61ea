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
    Gone,
}

/// <summary>
/// A storage backend. <see cref="VolumeService"/> does everything the backends share (names, option
/// validation, locking, mount reference counts, state); a backend only turns one volume's storage on
/// and off. Backends never see reference counts: they are asked to mount once and unmount once.
/// </summary>
internal interface IVolumeBackend
{
    string Name { get; }

    VolumeScope Scope { get; }

    IReadOnlyList<VolumeOptionSpec> Options { get; }

    /// <summary>Rules across options (e.g. "size needs type=tmpfs"); null when the set is consistent.</summary>
    string? CheckCombination(IReadOnlyDictionary<string, string> options);

    /// <summary>Makes the storage exist. Must converge if repeated after a crash.</summary>
    Task CreateAsync(VolumeRecord volume, CancellationToken cancellationToken);

    /// <summary>
    /// Detaches the storage from the name in one step that either happens or does not; what is left to
    /// clean up is done by <see cref="PurgeAsync"/> once the record is gone.
    /// </summary>
    Task RemoveAsync(VolumeRecord volume, CancellationToken cancellationToken);

    /// <summary>Frees what <see cref="RemoveAsync"/> left behind; failures are logged, not thrown.</summary>
    Task PurgeAsync(VolumeRecord volume, CancellationToken cancellationToken);

    /// <summary>Makes the storage appear at <paramref name="mountpoint"/>, creating that directory if needed.</summary>
    Task MountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken);

    Task UnmountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken);

    /// <summary>At start-up: is the record's storage there? May repair an interrupted remove.</summary>
    Task<BackingState> CheckAsync(VolumeRecord volume, CancellationToken cancellationToken);

    /// <summary>At start-up, after every record was checked: collect what belongs to no volume.</summary>
    Task CollectGarbageAsync(IReadOnlyCollection<VolumeRecord> volumes, CancellationToken cancellationToken);

    /// <summary>Backend facts for <c>docker volume inspect</c>; must be cheap (no I/O that can block).</summary>
    void AddStatus(VolumeRecord volume, IDictionary<string, string> status);
}
