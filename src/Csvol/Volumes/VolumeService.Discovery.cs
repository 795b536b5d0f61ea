using System.Collections.Frozen;

namespace Csvol.Volumes;

/// <summary>
/// A global backend's volumes, as last listed: volumes made on other hosts appear in Get and List here. The list is
/// read in the background; Get and List wait for the first answer at most <see cref="VolumeServiceSettings.FirstDiscoveryWait"/>,
/// once, and otherwise answer from the last known set, so a slow or dead backend never stalls Docker.
/// </summary>
internal sealed partial class VolumeService
{
    private readonly TaskCompletionSource _firstDiscovery = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FrozenDictionary<string, VolumeRecord> _discovered = FrozenDictionary<string, VolumeRecord>.Empty;
    private bool _firstDiscoveryWaited;

    private VolumeRecord? Discovered(string name) => _discovered.GetValueOrDefault(name);

    /// <summary>A volume removed here leaves the last known set at once, not at the next discovery.</summary>
    private void Undiscover(string name)
    {
        if (_discovered.ContainsKey(name))
        {
            _discovered = _discovered.Where(d => d.Key != name).ToFrozenDictionary(StringComparer.Ordinal);
        }
    }

    private async ValueTask FirstDiscoveryAsync()
    {
        if (Volatile.Read(ref _firstDiscoveryWaited) || _firstDiscovery.Task.IsCompleted)
        {
            return;
        }

        try
        {
            await _firstDiscovery.Task.WaitAsync(_settings.FirstDiscoveryWait, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogFirstDiscoverySlow(_settings.FirstDiscoveryWait.TotalSeconds);
        }

        Volatile.Write(ref _firstDiscoveryWaited, true);
    }

    private async Task DiscoverLoopAsync(CancellationToken stopping)
    {
        try
        {
            if (!await DiscoverOnceAsync(stopping).ConfigureAwait(false))
            {
                return; // a backend without discovery
            }

            using var timer = new PeriodicTimer(_settings.DiscoveryInterval, _time);
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                await DiscoverOnceAsync(stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown.
        }
        finally
        {
            _firstDiscovery.TrySetResult();
        }
    }

    /// <returns>False when the backend has no discovery at all.</returns>
    private async Task<bool> DiscoverOnceAsync(CancellationToken stopping)
    {
        IReadOnlyList<Backends.DiscoveredVolume>? found;
        try
        {
            found = await _backend.DiscoverAsync(stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keep the last known set: a backend that does not answer has not lost its volumes.
            LogDiscoveryFailed(ex, _discovered.Count);
            _firstDiscovery.TrySetResult();
            return true;
        }

        if (found is null)
        {
            return false;
        }

        var byName = new Dictionary<string, VolumeRecord>(found.Count, StringComparer.Ordinal);
        foreach (var volume in found)
        {
            if (VolumeName.Check(volume.Name) is { } problem)
            {
                LogDiscoveredInvalid(VolumeName.Printable(volume.Name), problem);
                continue;
            }

            byName[volume.Name] = new VolumeRecord
            {
                Name = volume.Name,
                Backend = _backend.Name,
                Options = _options.Shared(new SortedDictionary<string, string>(volume.Options.ToDictionary(), StringComparer.Ordinal)),
                Facts = new SortedDictionary<string, string>(volume.Facts.ToDictionary(), StringComparer.Ordinal),
                CreatedAt = volume.CreatedAt,
            };
        }

        var changed = byName.Count != _discovered.Count || byName.Keys.Any(k => !_discovered.ContainsKey(k));
        _discovered = byName.ToFrozenDictionary(StringComparer.Ordinal);
        if (changed)
        {
            Interlocked.Increment(ref _version);
        }

        _firstDiscovery.TrySetResult();
        await DropRemovedElsewhereAsync(byName, stopping).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// A record of a volume the backend no longer lists was removed on another host; it goes once the backend
    /// confirms that (a definite Gone), and never while this host holds it.
    /// </summary>
    private async Task DropRemovedElsewhereAsync(Dictionary<string, VolumeRecord> listed, CancellationToken stopping)
    {
        foreach (var (name, record) in _volumes)
        {
            if (listed.ContainsKey(name) || record.IsMounted || _restores.ContainsKey(name))
            {
                continue;
            }

            using var held = await _locks.AcquireAsync(name, stopping).ConfigureAwait(false);
            if (!_volumes.TryGetValue(name, out var current) || current.IsMounted)
            {
                continue;
            }

            try
            {
                if (await _backend.CheckAsync(current, stopping).ConfigureAwait(false) == Backends.BackingState.Gone)
                {
                    _store.Delete(name);
                    Publish(name, null);
                    LogRemovedElsewhere(name);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogCheckFailed(ex, name);
            }
        }
    }
}
