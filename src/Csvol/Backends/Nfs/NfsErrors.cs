using Csvol.Linux;
using Csvol.Volumes;

namespace Csvol.Backends.Nfs;

/// <summary>
/// What an NFS failure means to a user, always naming the server and the path: a refusal from mount.nfs, an errno from
/// a step on the export, or a step the watchdog gave up on.
/// </summary>
internal static class NfsErrors
{
    /// <summary>The watchdog gave up on a step: the server does not answer (a hard mount blocks until it does).</summary>
    public static VolumeException NotAnswering(string server, string what, string path, TimeSpan bound) =>
        new($"NFS server {server} did not answer within {bound.TotalSeconds:0} s while csvol tried to {what} {path}; " +
            "is it running and reachable from this host? Nothing was changed by this call; repeat it once the server answers");

    /// <summary>mount.nfs exited with an error: its words turned into what to check.</summary>
    public static VolumeException MountFailed(string server, string source, ProgramResult result)
    {
        var said = (result.Error.Trim().Length > 0 ? result.Error : result.Output).Trim().Replace('\n', ' ');
        var lower = said.ToLowerInvariant();
        var hint =
            lower.Contains("access denied", StringComparison.Ordinal) ? "the server refused this host (access denied): does the export allow this host's address?"
            : lower.Contains("no such file", StringComparison.Ordinal) ? "the path does not exist on the server: check the share (export path) and subdir; was the volume removed on another host?"
            : lower.Contains("stale", StringComparison.Ordinal) ? "the server no longer knows the directory (stale file handle): it was deleted or the export changed on the server"
            : lower.Contains("refused", StringComparison.Ordinal) || lower.Contains("timed out", StringComparison.Ordinal)
                || lower.Contains("unreachable", StringComparison.Ordinal) || lower.Contains("no route", StringComparison.Ordinal)
                ? "the server is not reachable: is it running, and is NFS (port 2049, or the port option) open to this host?"
            : lower.Contains("resolve", StringComparison.Ordinal) || lower.Contains("name or service", StringComparison.Ordinal)
                ? "the server's name does not resolve on this host"
            : lower.Contains("not permitted", StringComparison.Ordinal) ? "this process may not mount (the plugin needs CAP_SYS_ADMIN)"
            : lower.Contains("permission denied", StringComparison.Ordinal) ? "the server refused access to the path (permission denied)"
            : "see mount.nfs's words";
        return new VolumeException($"cannot mount {source} from NFS server {server}: {hint} (mount.nfs exit {result.ExitCode}: {said})");
    }

    /// <summary>A step on the export (mkdir, chown, chmod, a marker write, a rename) failed.</summary>
    public static Exception StepFailed(string server, string what, string path, Exception ex) =>
        ErrnoOf(ex) switch
        {
            Libc.EACCES or Libc.EPERM => new VolumeException(
                $"NFS server {server} refused to let root {what} {path} (permission denied): the export most likely squashes root " +
                "(root_squash), so csvol acts as an anonymous user there. Export the share with no_root_squash to csvol's hosts, " +
                "or create the subdirectory on the server with the owner you want and let csvol adopt it (uid/gid/mode are then not applied)", ex),
            Libc.ESTALE => Stale(server, path, ex),
            _ => ex is VolumeException ? ex : new VolumeException($"NFS: could not {what} {path} on server {server}: {ex.Message}", ex),
        };

    public static VolumeException Stale(string server, string path, Exception? ex = null) =>
        new($"stale NFS file handle on {path} (server {server}): the directory was deleted or replaced on the server; csvol mounts it again on the next Mount", ex);

    /// <summary>The errno behind an exception: csvol's own, or the one .NET keeps in HResult on Linux.</summary>
    public static int? ErrnoOf(Exception ex) => ex switch
    {
        ErrnoException errno => errno.Errno,
        UnauthorizedAccessException => Libc.EACCES,
        IOException io when io.HResult is > 0 and < 4096 => io.HResult,
        _ => null,
    };
}
