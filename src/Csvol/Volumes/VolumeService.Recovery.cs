using System.Collections.Concurrent;
using Csvol.Backends;

namespace Csvol.Volumes;

/// <summary>
/// Start-up and upkeep: records are loaded from disk first (local, fast), then every volume is restored on its own
/// (checked with the backend, mounted again if Docker still holds it), several at once. A call on a volume waits only
/// for that volume's restore; Activate, Capabilities, Get, List and calls on other volumes never wait for one.
/// </summary>
internal sealed partial class VolumeService
{
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, Task> _restores = new(StringComparer.Ordinal);

    /// <summary>Volumes whose last Unmount could not release the storage (busy, backend down): retried until it can.</summary>
    private readonly ConcurrentDictionary<string, byte> _lingering = new(StringComparer.Ordinal);

    private readonly TaskCompletionSource _restoredAll = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Finishes when start-up's restores, first repair and garbage collection are done (or abandoned at shutdown).</summary>
    public Task Restored => _restoredAll.Task;

    /// <summary>Loads the records, then restores volumes and keeps them in repair in the background until shutdown.</summary>
    /// <returns>Once the records are loaded; restores go on without the caller.</returns>
    /// <exception cref="StateVersionException">A record is newer than this csvol: it must not start.</exception>
    public Task InitializeAsync(CancellationToken stopping)
    {
        List<VolumeRecord> records;
        try
        {
            Directory.CreateDirectory(_mountRoot);
            records = [.. _store.LoadAll()];
        }
        catch (Exception ex)
        {
            LogInitializationFailed(ex);
            _loaded.TrySetException(new VolumeException(
                $"csvol could not load its state: {ex.Message}; fix the cause shown in the plugin log and restart the plugin", ex));
            throw;
        }

        var restored = new List<(VolumeRecord Record, TaskCompletionSource Done)>(records.Count);
        foreach (var loaded in records)
        {
            if (loaded.Backend != _backend.Name)
            {
                LogForeignRecord(loaded.Name, loaded.Backend, _backend.Name);
                continue;
            }

            var record = loaded with { Options = _options.Shared(loaded.Options) };
            if (record.IsMounted && record.BootId is { } recordedBoot && recordedBoot != _bootId)
            {
                // Recorded before a reboot: nothing is mounted any more and Docker will never unmount these IDs.
                LogIdsFromEarlierBoot(record.Name, record.MountIds.Length);
                record = record with { MountIds = [], BootId = null };
                Save(record, Durability.ProcessCrash);
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _restores[record.Name] = done.Task;
            _volumes[record.Name] = record;
            restored.Add((record, done));
        }

        Interlocked.Increment(ref _version);
        _loaded.TrySetResult();
        LogLoaded(_volumes.Count, _volumes.Values.Count(v => v.IsMounted));
        ReleaseLoadGarbage(records.Count);
        _ = Task.Run(() => UpkeepAsync(restored, stopping), CancellationToken.None); // ends at shutdown; nothing awaits it
        return Task.CompletedTask;
    }

    /// <summary>Waits until this volume's start-up restore (if any) is over; it never throws.</summary>
    private Task RestoredAsync(string name) => _restores.TryGetValue(name, out var restore) ? restore : Task.CompletedTask;

    private async Task UpkeepAsync(List<(VolumeRecord Record, TaskCompletionSource Done)> restored, CancellationToken stopping)
    {
        var discovery = Task.Run(() => DiscoverLoopAsync(stopping), CancellationToken.None);
        try
        {
            await Parallel.ForEachAsync(
                restored,
                new ParallelOptions { MaxDegreeOfParallelism = _settings.RestoreConcurrency, CancellationToken = stopping },
                async (item, token) =>
                {
                    try
                    {
                        await RestoreAsync(item.Record.Name, token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // One volume's failure (a record that cannot be deleted, say) must not end the others' restores
                        // or the repair loop after them; its mount IDs stay as recorded.
                        LogRestoreFailed(ex, item.Record.Name);
                    }
                    finally
                    {
                        _restores.TryRemove(item.Record.Name, out _);
                        item.Done.TrySetResult();
                    }
                }).ConfigureAwait(false);

            await RepairAsync(stopping).ConfigureAwait(false);
            await CollectGarbageAsync(stopping).ConfigureAwait(false);
            LogReady(_volumes.Count, _volumes.Values.Count(v => v.IsMounted));
            _restoredAll.TrySetResult();
            using var timer = new PeriodicTimer(_settings.RepairInterval, _time);
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                await RepairAsync(stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown: the next start restores what is left.
        }
        finally
        {
            foreach (var (_, done) in restored)
            {
                done.TrySetResult(); // nobody waits for a restore that shutdown abandoned
            }

            _restoredAll.TrySetResult();

            await discovery.ConfigureAwait(false);
        }
    }

    /// <summary>One volume after a start: does its storage exist, and is it mounted if Docker holds it?</summary>
    private async Task RestoreAsync(string name, CancellationToken stopping)
    {
        using var held = await _locks.AcquireAsync(name, stopping).ConfigureAwait(false);
        if (!_volumes.TryGetValue(name, out var record))
        {
            return;
        }

        BackingState state;
        try
        {
            state = await _backend.CheckAsync(record, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCheckFailed(ex, name);
            state = BackingState.Unknown;
        }

        switch (state)
        {
            case BackingState.Gone when record.IsMounted:
                // Containers hold it: deleting the record would let Remove and Create act on a volume in use.
                LogGoneButHeld(name, record.MountIds.Length);
                return;
            case BackingState.Gone:
                // Only a remove that was past its point of no return leaves a record without storage.
                _store.Delete(name);
                Publish(name, null);
                LogCompletedInterruptedRemove(name);
                return;
            case BackingState.Unknown:
                LogStateUnknown(name);
                break;
        }

        if (record.IsMounted)
        {
            await RemountIfHeldAsync(record, stopping).ConfigureAwait(false);
        }
        else if (state == BackingState.Present)
        {
            // Not while the backend cannot answer: every idle volume would fail, linger and be retried, all at once.
            await ReleaseIdleAsync(record, stopping).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A global backend's volume that no ID holds and nothing mounts may still be held by this host: a plugin killed
    /// between attach and mount leaves the disk attached here (seen in the EBS two-host test), no Unmount ever comes
    /// for it, and every other host is refused. It is released as a last Unmount would be; a failure is retried by
    /// the repair. A mount that no ID holds is left to the repair, which unmounts before it releases.
    /// </summary>
    private async Task ReleaseIdleAsync(VolumeRecord record, CancellationToken stopping)
    {
        var mountpoint = MountpointOf(record.Name);
        if (_backend.Scope != VolumeScope.Global || IsMountedAt(mountpoint))
        {
            return;
        }

        try
        {
            await UnmountAndTidyAsync(record, mountpoint, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Linger(record.Name);
            LogReleaseFailed(ex, record.Name, _settings.RepairInterval.TotalSeconds);
        }
    }

    /// <summary>Mounts again a volume whose IDs Docker still holds; a failure keeps the IDs and is retried by <see cref="RepairAsync"/>.</summary>
    private async Task RemountIfHeldAsync(VolumeRecord record, CancellationToken stopping)
    {
        var mountpoint = MountpointOf(record.Name);
        if (!record.IsMounted || IsMountedAt(mountpoint))
        {
            return;
        }

        try
        {
            await _backend.MountAsync(record, mountpoint, stopping).ConfigureAwait(false);
            LogRemounted(record.Name, record.MountIds.Length);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keeping the IDs keeps the volume "in use": a cloud disk that containers hold must never become removable.
            LogRemountFailed(ex, record.Name, _settings.RepairInterval.TotalSeconds);
        }
    }

    /// <summary>
    /// Releases mounts that no ID holds (left by a crash, or a last Unmount that failed) and mounts again volumes that
    /// IDs hold but are not mounted. Each volume under its own lock; a failure is logged and tried next round.
    /// </summary>
    private async Task RepairAsync(CancellationToken stopping)
    {
        var mountpoints = _mounter.Mountpoints();
        var names = new HashSet<string>(_lingering.Keys, StringComparer.Ordinal);
        foreach (var mountpoint in mountpoints)
        {
            if (Path.GetDirectoryName(mountpoint) == _mountRoot)
            {
                names.Add(Path.GetFileName(mountpoint));
            }
        }

        foreach (var (name, record) in _volumes)
        {
            if (record.IsMounted && !mountpoints.Contains(MountpointOf(name)))
            {
                names.Add(name);
            }
        }

        foreach (var name in names)
        {
            using var held = await _locks.AcquireAsync(name, stopping).ConfigureAwait(false);
            var record = _volumes.GetValueOrDefault(name);
            if (record is { IsMounted: true })
            {
                Forget(name);
                await RemountIfHeldAsync(record, stopping).ConfigureAwait(false);
                continue;
            }

            try
            {
                await ReleaseAsync(name, record, stopping).ConfigureAwait(false);
                Forget(name);
                LogReleased(name);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Linger(name);
                LogReleaseFailed(ex, name, _settings.RepairInterval.TotalSeconds);
            }
        }
    }

    /// <summary>Before Remove: a mount that a failed Unmount left must go first, or Remove fails naming why.</summary>
    private async Task ReleaseLingeringMountAsync(VolumeRecord record, CancellationToken cancellationToken)
    {
        if (!_lingering.ContainsKey(record.Name) && !IsMountedAt(MountpointOf(record.Name)))
        {
            return;
        }

        try
        {
            await ReleaseAsync(record.Name, record, cancellationToken).ConfigureAwait(false);
            Forget(record.Name);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new VolumeException(
                $"volume \"{record.Name}\" is held by no container but is still mounted at {MountpointOf(record.Name)} and " +
                $"cannot be released: {Reason(ex)}; csvol retries every {_settings.RepairInterval.TotalSeconds:0} s; remove it after that succeeds", ex);
        }
    }

    private async Task ReleaseAsync(string name, VolumeRecord? record, CancellationToken cancellationToken)
    {
        var mountpoint = MountpointOf(name);
        if (record is null)
        {
            _mounter.Unmount(mountpoint); // no volume of that name: only the mount is left
            TryRemoveEmptyDirectory(mountpoint);
            return;
        }

        await UnmountAndTidyAsync(record, mountpoint, cancellationToken).ConfigureAwait(false);
    }

    private void Linger(string name) => _lingering[name] = 0;

    private void Forget(string name) => _lingering.TryRemove(name, out _);

    private async Task CollectGarbageAsync(CancellationToken stopping)
    {
        try
        {
            await _backend.CollectGarbageAsync([.. _volumes.Values], stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogGarbageCollectionFailed(ex);
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
}
