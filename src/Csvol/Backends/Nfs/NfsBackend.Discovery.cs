using Csvol.Volumes;

namespace Csvol.Backends.Nfs;

internal sealed partial class NfsBackend
{
    /// <summary>
    /// Every marker on the default export and on every export a volume of this host uses. An export that does not
    /// answer contributes what it listed last time, so one dead server hides nobody's volumes; when none answers, the
    /// core keeps its whole last set.
    /// </summary>
    public async Task<IReadOnlyList<DiscoveredVolume>?> DiscoverAsync(CancellationToken cancellationToken)
    {
        var found = new List<DiscoveredVolume>();
        Exception? failure = null;
        var answered = 0;
        foreach (var export in _exports.Keys.OrderBy(e => e.Source(), StringComparer.Ordinal))
        {
            try
            {
                _listed[export] = await ListExportAsync(export, cancellationToken).ConfigureAwait(false);
                answered++;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failure = ex;
                LogExportNotListed(ex, export.Source());
            }

            found.AddRange(_listed.GetValueOrDefault(export) ?? []);
        }

        return failure is not null && answered == 0 ? throw failure : found;
    }

    private async Task<List<DiscoveredVolume>> ListExportAsync(NfsExport export, CancellationToken cancellationToken)
    {
        var found = new List<DiscoveredVolume>();
        await using var root = await ExportRoot.MountAsync(_client, _workRoot, export, _settings.Options, null, cancellationToken).ConfigureAwait(false);
        var markers = await root.StepAsync("list csvol's volumes in", NfsMarker.Directory, () =>
            Directory.Exists(root.MarkerDirectory)
                ? Directory.EnumerateFiles(root.MarkerDirectory, "*.json").Select(f => (File: f, Bytes: File.ReadAllBytes(f))).ToList()
                : [], cancellationToken).ConfigureAwait(false);
        foreach (var (file, bytes) in markers)
        {
            if (NfsMarker.Parse(bytes) is { } marker && NfsMarker.FileName(marker.Volume) == Path.GetFileName(file))
            {
                found.Add(new DiscoveredVolume(marker.Volume, marker.Options, VolumeRecord.NoFacts, marker.CreatedAt));
            }
            else
            {
                LogUnreadableMarker(root.Remote(Path.Join(NfsMarker.Directory, Path.GetFileName(file))));
            }
        }

        return found;
    }
}
