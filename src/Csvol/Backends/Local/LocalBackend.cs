using System.Globalization;
using Csvol.Linux;
using Csvol.Mounting;
using Csvol.Volumes;

namespace Csvol.Backends.Local;

/// <summary>
/// <c>csvol/local</c>: a directory under the state directory (bind-mounted at the mount point), or a tmpfs
/// whose contents live in memory only while mounted.
/// </summary>
/// <remarks>
/// Remove renames the data directory into <c>trash/</c> (the one atomic step), then the record goes, then
/// the trash is emptied. Start-up puts trash back for volumes whose record survived a crash and empties
/// the rest.
/// <para>
/// Permissions: <c>data/</c> and <c>trash/</c> are 0700, so no host user but root can reach into a volume (a
/// container may have put a set-user-ID program there); each volume root keeps the mode its options ask for.
/// </para>
/// </remarks>
internal sealed partial class LocalBackend : IVolumeBackend
{
    public const string BackendName = "local";
    private const string TrashSeparator = "~"; // never part of a volume name
    private const UnixFileMode DefaultDirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private readonly IMounter _mounter;
    private readonly TimeProvider _time;
    private readonly ILogger<LocalBackend> _logger;
    private readonly string _dataRoot;
    private readonly string _trashRoot;
    private readonly bool _dataRootTrusted;

    /// <summary>In <c>data/</c>: shows that this directory is csvol's data root, not an empty stand-in for an unmounted one.</summary>
    public const string DataRootMarker = ".csvol-data-root";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public LocalBackend(string stateDirectory, IMounter mounter, TimeProvider time, ILogger<LocalBackend> logger)
    {
        _mounter = mounter;
        _time = time;
        _logger = logger;
        _dataRoot = Path.Combine(stateDirectory, "data");
        _trashRoot = Path.Combine(stateDirectory, "trash");
        _dataRootTrusted = PrepareDataRoot();
        Directory.CreateDirectory(_trashRoot, OwnerOnly);
        File.SetUnixFileMode(_trashRoot, OwnerOnly);
    }

    /// <summary>
    /// Creates <c>data/</c> (0700) or tightens it, and says whether a volume directory missing from it can be taken
    /// as gone: only when it carries the marker, which csvol writes into a data root it made or found holding data.
    /// An empty data root without it may be an unmounted file system, where every volume would look gone.
    /// </summary>
    private bool PrepareDataRoot()
    {
        var marker = Path.Join(_dataRoot, DataRootMarker);
        var existed = Directory.Exists(_dataRoot);
        Directory.CreateDirectory(_dataRoot, OwnerOnly);
        File.SetUnixFileMode(_dataRoot, OwnerOnly);
        if (File.Exists(marker))
        {
            return true;
        }

        if (existed && !Directory.EnumerateFileSystemEntries(_dataRoot).Any())
        {
            return false;
        }

        File.WriteAllBytes(marker, []);
        return true;
    }

    public string Name => BackendName;

    public VolumeScope Scope => VolumeScope.Local;

    public IReadOnlyList<VolumeOptionSpec> Options { get; } =
    [
        VolumeOptionSpec.Choice(LocalOptions.Type, "dir: a directory on the host's disk; tmpfs: memory only, gone on last unmount",
            LocalOptions.Dir, LocalOptions.Dir, LocalOptions.Tmpfs),
        VolumeOptionSpec.Id(LocalOptions.Uid, "owner of the volume's root directory"),
        VolumeOptionSpec.Id(LocalOptions.Gid, "group of the volume's root directory"),
        VolumeOptionSpec.OctalMode(LocalOptions.Mode, "permissions of the volume's root directory (default 0755 for dir, 1777 for tmpfs)"),
        VolumeOptionSpec.ByteSize(LocalOptions.Size, "tmpfs only: the most it may hold (default: half of RAM)"),
        VolumeOptionSpec.Flag(LocalOptions.NoExec, "no program on the volume may be executed"),
        VolumeOptionSpec.Flag(LocalOptions.NoSuid, "set-user-ID and set-group-ID bits are ignored"),
        VolumeOptionSpec.Flag(LocalOptions.NoDev, "device files on the volume cannot be opened"),
    ];

    public string? CheckCombination(IReadOnlyDictionary<string, string> options) =>
        options[LocalOptions.Type] != LocalOptions.Tmpfs && options.ContainsKey(LocalOptions.Size)
            ? $"option \"{LocalOptions.Size}\" applies only to type=tmpfs; a dir volume grows with the host file system"
            : null;

    public string DataPathOf(string name) => Path.Join(_dataRoot, name);

    public Task<CreateResult> CreateAsync(
        VolumeRecord volume, IReadOnlyDictionary<string, string> secrets, CancellationToken cancellationToken)
    {
        var options = new LocalOptions(volume.Options);
        if (options.IsTmpfs)
        {
            return Task.FromResult(CreateResult.Made); // nothing exists until it is mounted
        }

        // A directory left by a create that crashed before its record was written is adopted here, and is then not
        // this call's to delete if the record cannot be written.
        var data = DataPathOf(volume.Name);
        var adopted = Directory.Exists(data);
        Directory.CreateDirectory(data);
        if (options.Owner is not null || options.Group is not null)
        {
            Libc.Lchown(data, options.Owner ?? uint.MaxValue, options.Group ?? uint.MaxValue);
        }

        // chown clears set-ID bits, so the mode comes last; umask does not apply to chmod.
        File.SetUnixFileMode(data, options.Permissions ?? DefaultDirectoryMode);
        Libc.FsyncDirectory(_dataRoot);
        return Task.FromResult(adopted ? CreateResult.Found : CreateResult.Made);
    }

    public Task RemoveAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        var data = DataPathOf(volume.Name);
        if (new LocalOptions(volume.Options).IsTmpfs || !Directory.Exists(data))
        {
            return Task.CompletedTask;
        }

        var trashed = Path.Join(_trashRoot, volume.Name + TrashSeparator +
            _time.GetUtcNow().UtcTicks.ToString(CultureInfo.InvariantCulture));
        Directory.Move(data, trashed);
        Libc.FsyncDirectory(_dataRoot);
        Libc.FsyncDirectory(_trashRoot);
        return Task.CompletedTask;
    }

    public Task PurgeAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        foreach (var trashed in TrashOf(volume.Name))
        {
            DeleteTrash(trashed);
        }

        return Task.CompletedTask;
    }

    public Task MountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        var options = new LocalOptions(volume.Options);
        Directory.CreateDirectory(mountpoint);
        _mounter.Unmount(mountpoint); // never stack mounts: the core only asks when nothing is mounted, but this costs one syscall

        if (options.IsTmpfs)
        {
            _mounter.Mount("csvol-" + volume.Name, mountpoint, "tmpfs", options.Flags, options.TmpfsData());
            return Task.CompletedTask;
        }

        var data = DataPathOf(volume.Name);
        if (!Directory.Exists(data))
        {
            throw new VolumeException(
                $"the data directory of volume \"{volume.Name}\" ({data}) is missing; was the state directory moved or cleaned?");
        }

        _mounter.Mount(data, mountpoint, null, MountFlags.Bind, null);
        if (options.Flags != MountFlags.None)
        {
            try
            {
                // Per-mount flags on a bind mount take a second, remounting call.
                _mounter.Mount(data, mountpoint, null, MountFlags.Remount | MountFlags.Bind | options.Flags, null);
            }
            catch
            {
                _mounter.Unmount(mountpoint);
                throw;
            }
        }

        return Task.CompletedTask;
    }

    public Task UnmountAsync(VolumeRecord volume, string mountpoint, CancellationToken cancellationToken)
    {
        _mounter.Unmount(mountpoint);
        return Task.CompletedTask;
    }

    public Task<BackingState> CheckAsync(VolumeRecord volume, CancellationToken cancellationToken)
    {
        if (new LocalOptions(volume.Options).IsTmpfs || Directory.Exists(DataPathOf(volume.Name)))
        {
            return Task.FromResult(BackingState.Present);
        }

        // The record outlived a crash in the middle of Remove: the remove did not happen, undo it.
        var newest = TrashOf(volume.Name).Order(StringComparer.Ordinal).LastOrDefault();
        if (newest is null)
        {
            if (!_dataRootTrusted)
            {
                LogDataRootUntrusted(_dataRoot, volume.Name);
                return Task.FromResult(BackingState.Unknown);
            }

            return Task.FromResult(BackingState.Gone);
        }

        Directory.Move(newest, DataPathOf(volume.Name));
        Libc.FsyncDirectory(_dataRoot);
        LogRestoredFromTrash(volume.Name);
        return Task.FromResult(BackingState.Present);
    }

    public Task CollectGarbageAsync(IReadOnlyCollection<VolumeRecord> volumes, CancellationToken cancellationToken)
    {
        foreach (var trashed in Directory.EnumerateDirectories(_trashRoot))
        {
            DeleteTrash(trashed);
        }

        var known = volumes.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var data in Directory.EnumerateDirectories(_dataRoot))
        {
            if (!known.Contains(Path.GetFileName(data)))
            {
                // Never delete data on a guess: a create of the same name adopts it.
                LogOrphanedData(data, Path.GetFileName(data));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>A local volume exists only in this host's records.</summary>
    public Task<IReadOnlyList<DiscoveredVolume>?> DiscoverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DiscoveredVolume>?>(null);

    public void AddStatus(VolumeRecord volume, IDictionary<string, string> status)
    {
        var options = new LocalOptions(volume.Options);
        status["type"] = options.IsTmpfs ? LocalOptions.Tmpfs : LocalOptions.Dir;
        if (options.IsTmpfs)
        {
            status["size"] = options.SizeBytes is { } bytes ? bytes.ToString(CultureInfo.InvariantCulture) : "half of RAM";
        }
        else
        {
            status["dataPath"] = DataPathOf(volume.Name);
        }
    }

    private IEnumerable<string> TrashOf(string name) =>
        Directory.EnumerateDirectories(_trashRoot, name + TrashSeparator + "*")
            .Where(t => Path.GetFileName(t).AsSpan(0, Path.GetFileName(t).LastIndexOf(TrashSeparator, StringComparison.Ordinal))
                .SequenceEqual(name));

    private void DeleteTrash(string trashed)
    {
        try
        {
            if (SafeTree.Delete(trashed) is { Count: > 0 } mountpoints)
            {
                LogLeftInTrash(trashed, string.Join(", ", mountpoints));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogTrashNotDeleted(ex, trashed);
        }
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Data directory of volume {Volume} is missing and {DataRoot} is empty without csvol's marker: is the file system that holds it mounted? Record kept")]
    private partial void LogDataRootUntrusted(string dataRoot, string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: a remove was interrupted before it completed; its data is back")]
    private partial void LogRestoredFromTrash(string volume);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Data directory {Path} belongs to no volume; left alone. `docker volume create -d csvol/local {Name}` adopts it; delete it by hand if unwanted")]
    private partial void LogOrphanedData(string path, string name);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not delete removed data {Path}; will retry at next start")]
    private partial void LogTrashNotDeleted(Exception exception, string path);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Removed data {Path} left in trash: {Mountpoints} are mount points, not deleted into; unmount them and restart csvol to finish")]
    private partial void LogLeftInTrash(string path, string mountpoints);
}
