using System.Diagnostics;
using Csvol.Volumes;

namespace Csvol.Linux;

/// <summary>How a program ended and what it printed.</summary>
internal readonly record struct ProgramResult(int ExitCode, string Output, string Error);

/// <summary>The programs the backends run (blkid, mkfs, mount.nfs, …): always with an argument list, never through a shell.</summary>
internal static class Programs
{
    /// <summary>
    /// Runs <paramref name="program"/> with its standard input closed and its output read. With a
    /// <paramref name="bound"/>, past it the process is killed (SIGKILL also reaches one waiting in an NFS mount, whose
    /// waits are killable) and <paramref name="late"/> is thrown.
    /// </summary>
    /// <param name="program">The program, found on PATH.</param>
    /// <param name="arguments">Its arguments, one each.</param>
    /// <param name="needs">The packages to name when the program is missing, e.g. "nfs-common (mount.nfs)".</param>
    /// <param name="cancellationToken">Cancels the wait (and kills the process).</param>
    /// <param name="bound">How long it may run; null: as long as it takes.</param>
    /// <param name="late">What to throw past the bound.</param>
    /// <param name="time">The clock of the bound.</param>
    public static async Task<ProgramResult> RunAsync(
        string program, IReadOnlyList<string> arguments, string needs, CancellationToken cancellationToken,
        TimeSpan? bound = null, Func<Exception>? late = null, TimeProvider? time = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new VolumeException($"could not start {program}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new VolumeException($"could not run {program} ({ex.Message}); the plugin needs {needs}", ex);
        }

        using var owned = process;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            var exited = process.WaitForExitAsync(cancellationToken);
            await (bound is { } limit ? exited.WaitAsync(limit, time ?? TimeProvider.System, cancellationToken) : exited).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (ex is OperationCanceledException || late is null)
            {
                throw;
            }

            throw late();
        }

        return new ProgramResult(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
    }
}
