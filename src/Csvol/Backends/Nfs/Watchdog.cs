using System.Collections.Concurrent;
using Csvol.Linux;

namespace Csvol.Backends.Nfs;

/// <summary>
/// Bounds every step that can block on an NFS server. A <c>hard</c> mount of a dead server blocks stat, mkdir and
/// umount in the kernel for as long as the server stays away, and no cancellation token reaches into a system call: so
/// such a step runs on a thread of its own, and the caller stops waiting after the bound. The thread is left blocked
/// (it finishes when the server returns or the mount is forced away); the call that started it has its answer in time.
/// </summary>
internal sealed class Watchdog(TimeProvider time)
{
    /// <summary>A blocked step's thread needs little stack; many of them (a long outage) should cost little memory.</summary>
    private const int StackBytes = 256 * 1024;

    /// <summary>Paths that steps still running (perhaps given up on, still blocked in the kernel) work on, with their count.</summary>
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether a step on <paramref name="path"/> is still running: a step given up on keeps the mount it waits in busy
    /// until the kernel lets it go.
    /// </summary>
    public bool IsBusyWith(string path) => _inFlight.ContainsKey(path);

    /// <summary>
    /// Runs <paramref name="step"/> on its own thread; past <paramref name="bound"/>, throws what <paramref name="late"/>
    /// makes. While the thread runs, <paramref name="path"/> (if given) counts as in use by csvol (<see cref="IsBusyWith"/>).
    /// </summary>
    public async Task<T> RunAsync<T>(Func<T> step, TimeSpan bound, Func<Exception> late, CancellationToken cancellationToken, string? path = null)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (path is not null)
        {
            _ = _inFlight.AddOrUpdate(path, 1, (_, n) => n + 1);
        }

        var thread = new Thread(
            () =>
            {
                // The path is released before the answer is given, so that the caller never sees its own finished step as in flight.
                T result;
                try
                {
                    result = step();
                }
                catch (Exception ex)
                {
                    Release(path);
                    done.SetException(ex);
                    return;
                }

                Release(path);
                done.SetResult(result);
            },
            StackBytes)
        {
            IsBackground = true,
            Name = "csvol-nfs-step",
        };
        thread.UnsafeStart();
        try
        {
            return await done.Task.WaitAsync(bound, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw late();
        }
    }

    public Task RunAsync(Action step, TimeSpan bound, Func<Exception> late, CancellationToken cancellationToken, string? path = null) =>
        RunAsync(() =>
        {
            step();
            return true;
        }, bound, late, cancellationToken, path);

    /// <summary>Waits, at most <paramref name="bound"/>, until no step on <paramref name="path"/> runs any more.</summary>
    public async Task<bool> IdleAsync(string path, TimeSpan bound)
    {
        var deadline = time.GetUtcNow() + bound;
        while (IsBusyWith(path))
        {
            if (time.GetUtcNow() >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), time).ConfigureAwait(false);
        }

        return true;
    }

    private void Release(string? path)
    {
        while (path is not null && _inFlight.TryGetValue(path, out var n))
        {
            if (n <= 1 ? _inFlight.TryRemove(new KeyValuePair<string, int>(path, n)) : _inFlight.TryUpdate(path, n - 1, n))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Runs a program with an argument list (never a shell); past <paramref name="bound"/> it is killed (SIGKILL reaches
    /// a process waiting in an NFS mount, whose waits are killable) and <paramref name="late"/> is thrown.
    /// </summary>
    public Task<ProgramResult> RunProgramAsync(
        string program, IReadOnlyList<string> arguments, TimeSpan bound, Func<Exception> late, CancellationToken cancellationToken) =>
        Programs.RunAsync(program, arguments, "nfs-common (mount.nfs)", cancellationToken, bound, late, time);
}
