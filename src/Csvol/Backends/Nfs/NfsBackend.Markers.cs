using Csvol.Linux;
using Csvol.Volumes;

namespace Csvol.Backends.Nfs;

internal sealed partial class NfsBackend
{
    private static string MarkerPath(string volume) => Path.Join(NfsMarker.Directory, NfsMarker.FileName(volume));

    private static async Task<NfsMarker?> ReadMarkerAsync(ExportRoot root, string volume, CancellationToken cancellationToken)
    {
        var path = MarkerPath(volume);
        var bytes = await root.StepAsync("read", path, () => File.Exists(root.Local(path)) ? File.ReadAllBytes(root.Local(path)) : null, cancellationToken)
            .ConfigureAwait(false);
        return bytes is null ? null
            : NfsMarker.Parse(bytes) is { } marker && marker.Volume == volume ? marker
            : throw new VolumeException(
                $"csvol's marker {root.Remote(path)} is damaged or was written by a newer csvol; look at it, and delete it to let csvol treat the directory as not its own");
    }

    /// <summary>
    /// Writes the marker only if none exists (O_EXCL, atomic on the server): of two hosts creating the same volume at
    /// once, one writes it and the other finds it.
    /// </summary>
    private static Task WriteMarkerAsync(ExportRoot root, NfsMarker marker, CancellationToken cancellationToken)
    {
        var path = MarkerPath(marker.Volume);
        return root.StepAsync("write csvol's marker", path, () =>
        {
            Directory.CreateDirectory(root.MarkerDirectory, DefaultMode);
            using var file = new FileStream(root.Local(path), FileMode.CreateNew, FileAccess.Write, FileShare.None);
            file.Write(marker.ToBytes());
            file.Flush(flushToDisk: true);
        }, cancellationToken);
    }

    private static Task SetOwnerAndModeAsync(ExportRoot root, string subdir, IReadOnlyDictionary<string, string> options, CancellationToken cancellationToken)
    {
        var (uid, gid) = (NfsOptions.Number(options, NfsOptions.Uid), NfsOptions.Number(options, NfsOptions.Gid));
        var mode = options.TryGetValue(NfsOptions.Mode, out var text) ? (UnixFileMode)Convert.ToInt32(text, 8) : DefaultMode;
        return root.StepAsync(uid is null && gid is null ? "set the mode of" : "set the owner and mode of", subdir, () =>
        {
            var path = root.Local(subdir);
            if (uid is not null || gid is not null)
            {
                Libc.Lchown(path, uid ?? uint.MaxValue, gid ?? uint.MaxValue);
            }

            File.SetUnixFileMode(path, mode); // after chown, which clears set-ID bits
        }, cancellationToken);
    }

    private static bool SameVolume(NfsMarker marker, VolumeRecord volume, ExportRoot root) =>
        marker.Options.Count == volume.Options.Count && marker.Options.All(o => volume.Options.GetValueOrDefault(o.Key) == o.Value)
        && root.Export == NfsOptions.LocationOf(volume.Name, marker.Options).Export;
}
