namespace Csvol.Backends.Nfs;

/// <summary>
/// An export's root, mounted for as long as one Create, Remove or discovery needs it, in a private directory under the
/// state directory (0700), and unmounted when disposed. Brief mounts leave nothing behind to go stale.
/// </summary>
internal sealed class ExportRoot : IAsyncDisposable
{
    /// <summary>No program, device or set-user-ID file on the export is usable through csvol's own mount.</summary>
    private static readonly string[] Confined = ["rw", "nosuid", "nodev", "noexec"];

    private readonly NfsClient _client;

    private ExportRoot(NfsClient client, NfsExport export, string path)
    {
        _client = client;
        Export = export;
        Path = path;
    }

    public NfsExport Export { get; }

    /// <summary>Where the export's root is mounted on this host.</summary>
    public string Path { get; }

    public string MarkerDirectory => System.IO.Path.Join(Path, NfsMarker.Directory);

    public string TrashDirectory => System.IO.Path.Join(MarkerDirectory, NfsMarker.TrashDirectory);

    public static async Task<ExportRoot> MountAsync(
        NfsClient client, string workRoot, NfsExport export, string? pluginOptions, string? volumeOptions, CancellationToken cancellationToken)
    {
        var path = System.IO.Path.Join(workRoot, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            await client.MountAsync(export, export.Source(), path, NfsMountOptions.Effective(pluginOptions, volumeOptions, Confined), cancellationToken)
                .ConfigureAwait(false);
        }
        catch
        {
            TryDelete(path);
            throw;
        }

        return new ExportRoot(client, export, path);
    }

    /// <summary>The path on this host of <paramref name="relative"/> below the export's root.</summary>
    public string Local(string relative) => System.IO.Path.Join(Path, relative);

    /// <summary>The path as the server names it, for messages.</summary>
    public string Remote(string relative) => Export.Source(relative);

    public Task<T> StepAsync<T>(string what, string relative, Func<T> step, CancellationToken cancellationToken) =>
        _client.StepAsync(Export.Server, what, Remote(relative), step, cancellationToken);

    public Task StepAsync(string what, string relative, Action step, CancellationToken cancellationToken) =>
        _client.StepAsync(Export.Server, what, Remote(relative), step, cancellationToken);

    /// <summary>
    /// Unmounts (forced, then detached, if the server has gone meanwhile). Never throws: a failure here would hide the
    /// Err of the step that failed first, and a root that stays mounted is unmounted at the next start
    /// (<see cref="NfsBackend.CollectGarbageAsync"/>).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _client.UnmountAsync(Export.Server, Path, CancellationToken.None).ConfigureAwait(false);
            TryDelete(Path);
        }
        catch (Exception ex) when (ex is IOException or Volumes.VolumeException)
        {
            // Never hide the first Err; the next start unmounts what is left.
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path);
        }
        catch (IOException)
        {
            // Still a mount point (detached mounts vanish later) or already gone; an empty directory is harmless.
        }
    }
}
