using System.ComponentModel;
using System.Diagnostics;

namespace Csvol.EndToEnd.Harness;

/// <summary>Runs a program with an argument list (never a shell string), bounded in time.</summary>
public static class Cli
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Which Debian package provides a tool, for the message when it is missing.</summary>
    private static readonly Dictionary<string, string> Packages = new(StringComparer.Ordinal)
    {
        ["docker"] = "docker.io",
        ["dockerd"] = "docker.io",
        ["bash"] = "bash",
        ["umount"] = "mount",
        ["kill"] = "procps",
        ["ip"] = "iproute2",
    };

    public static async Task<CommandResult> RunAsync(
        string program,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var command = string.Join(' ', [program, .. start.ArgumentList]);
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            var package = Packages.GetValueOrDefault(Path.GetFileName(program), Path.GetFileName(program));
            throw new InvalidOperationException(
                $"cannot run '{program}' ({ex.Message}): install it with scripts/deps.sh or apt-get install {package}", ex);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        return new CommandResult(command, process.ExitCode, await stdout, await stderr, timedOut);
    }
}
