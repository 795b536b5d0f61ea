using Csvol.Linux;
using Csvol.Mounting;

namespace Csvol.Backends.Nfs;

/// <summary>
/// This host's NFS client, every step bounded by the watchdog: mount.nfs with an argument list, unmount (forced, then
/// detached, only when the server does not answer), and steps on a mounted export.
/// </summary>
internal sealed partial class NfsClient(Watchdog watchdog, IMounter mounter, TimeSpan bound, ILogger logger)
{
    public const string MountProgram = "mount.nfs";

    public TimeSpan Bound => bound;

    /// <summary>mount.nfs's arguments: source, target, then the options; no shell ever sees them.</summary>
    public static IReadOnlyList<string> MountArguments(string source, string target, IReadOnlyList<string> options) =>
        options.Count == 0 ? [source, target] : [source, target, "-o", string.Join(',', options)];

    /// <summary>Mounts <paramref name="source"/> at <paramref name="target"/>; the host name is resolved now, by mount.nfs, not cached.</summary>
    public async Task MountAsync(NfsExport export, string source, string target, IReadOnlyList<string> options, CancellationToken cancellationToken)
    {
        var result = await watchdog.RunProgramAsync(MountProgram, MountArguments(source, target, options), bound,
            () => NfsErrors.NotAnswering(export.Server, "mount", source, bound), cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw NfsErrors.MountFailed(export.Server, source, result);
        }
    }

    /// <summary>
    /// Unmounts <paramref name="target"/>. When the server does not answer (the unmount hangs, or a check of csvol's own
    /// that gave up still waits inside the mount and keeps it busy), the unmount is forced: MNT_FORCE makes the NFS client
    /// abort the requests in flight, which releases whatever waits on them. As the last resort the mount is detached
    /// (MNT_DETACH: gone from the mount table at once, released by the kernel when nothing uses it any more), so a dead
    /// server never keeps a volume mounted forever. A mount kept busy by anyone else (a process still inside) is never
    /// forced: that is the caller's to resolve.
    /// </summary>
    public async Task UnmountAsync(string server, string target, CancellationToken cancellationToken)
    {
        try
        {
            await Step(UnmountFlags.None, "unmount").ConfigureAwait(false);
            return;
        }
        catch (MountBusyException) when (watchdog.IsBusyWith(target))
        {
            LogOwnStepsStuck(logger, target, server);
        }
        catch (Volumes.VolumeException)
        {
            LogUnmountForced(logger, target, server, bound.TotalSeconds);
        }

        try
        {
            await Step(UnmountFlags.Force, "force the unmount of").ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is Volumes.VolumeException or ErrnoException or MountBusyException)
        {
            // Aborted requests take a moment to release what waited on them.
        }

        if (await watchdog.IdleAsync(target, bound).ConfigureAwait(false))
        {
            try
            {
                await Step(UnmountFlags.None, "unmount").ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is Volumes.VolumeException or ErrnoException or MountBusyException)
            {
                // Still not: detach below.
            }
        }

        LogUnmountDetached(logger, target, server);
        await Step(UnmountFlags.Detach, "detach").ConfigureAwait(false);

        Task Step(UnmountFlags flags, string what) =>
            watchdog.RunAsync(() => Unmount(target, flags), bound, () => NfsErrors.NotAnswering(server, what, target, bound), cancellationToken, target);
    }

    /// <summary>One step on a mounted export (stat, mkdir, a marker), bounded; its failure said in words that name the server.</summary>
    public async Task<T> StepAsync<T>(string server, string what, string path, Func<T> step, CancellationToken cancellationToken)
    {
        try
        {
            return await watchdog.RunAsync(step, bound, () => NfsErrors.NotAnswering(server, what, path, bound), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw NfsErrors.StepFailed(server, what, path, ex);
        }
    }

    public Task StepAsync(string server, string what, string path, Action step, CancellationToken cancellationToken) =>
        StepAsync(server, what, path, () =>
        {
            step();
            return true;
        }, cancellationToken);

    /// <summary>
    /// Asks the server, not the client's cache, whether the directory mounted at <paramref name="path"/> still exists:
    /// 0, ESTALE, or another errno; a server that does not answer within the bound is an Err.
    /// </summary>
    /// <remarks>
    /// Two questions, because servers differ in which one shows a deleted directory: its attributes (kernel nfsd answers
    /// ESTALE), and a lookup of a name nobody uses (nfs-ganesha may answer attributes from its cache, never that lookup).
    /// </remarks>
    public Task<int> ProbeDirectoryAsync(string server, string path, CancellationToken cancellationToken) =>
        watchdog.RunAsync(() =>
        {
            var errno = Libc.TryStatFromServer(path);
            if (errno != 0)
            {
                return errno;
            }

            errno = Libc.TryStatFromServer(Path.Join(path, ".csvol-probe-" + Guid.NewGuid().ToString("N")));
            return errno == Libc.ENOENT ? 0 : errno;
        }, bound, () => NfsErrors.NotAnswering(server, "check the mount", path, bound), cancellationToken, path);

    private void Unmount(string target, UnmountFlags flags)
    {
        if (flags == UnmountFlags.None)
        {
            mounter.Unmount(target);
            return;
        }

        var errno = Libc.TryUnmount(target, flags);
        if (errno is not (0 or Libc.EINVAL or Libc.ENOENT))
        {
            throw errno == Libc.EBUSY ? new MountBusyException(target) : new ErrnoException($"umount {target}", errno);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Unmount of {Target}: NFS server {Server} did not answer within {Seconds} s; forcing it")]
    private static partial void LogUnmountForced(ILogger logger, string target, string server, double seconds);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Unmount of {Target}: busy with csvol's own checks that NFS server {Server} never answered; forcing it, which aborts them")]
    private static partial void LogOwnStepsStuck(ILogger logger, string target, string server);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Unmount of {Target}: forcing did not succeed either (server {Server}); detaching it (lazy unmount) as the last resort")]
    private static partial void LogUnmountDetached(ILogger logger, string target, string server);
}
