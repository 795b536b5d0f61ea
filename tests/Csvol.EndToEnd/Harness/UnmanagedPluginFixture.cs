using System.Diagnostics;
using System.Net.Sockets;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// csvol as a host process (an unmanaged plugin): its own socket in /run/docker/plugins, which makes its
/// socket name the driver name, and its own state directory and mount root.
/// </summary>
/// <remarks>
/// The name is fixed, not unique per fixture: dockerd remembers every unmanaged driver it has used until
/// it restarts, and asks each one on `docker volume ls` or an inspect of an unknown name, waiting ~15 s for
/// one whose socket is gone. Reusing one name means the driver dockerd remembers is the one running now.
/// The collections that use this fixture never run at the same time.
/// </remarks>
public sealed class UnmanagedPluginFixture : IPluginUnderTest, IAsyncLifetime
{
    private const string PluginDirectory = "/run/docker/plugins";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _root;
    private readonly string _logPath;
    private Process? _process;
    private StreamWriter? _log;

    public UnmanagedPluginFixture()
    {
        Driver = "csvol-e2e";
        _root = "/var/lib/csvol-test/unmanaged";
        HostStateDirectory = Path.Combine(_root, "state");
        MountRoot = Path.Combine(_root, "mnt");
        SocketPath = Path.Combine(PluginDirectory, Driver + ".sock");
        _logPath = Path.Combine(RepoPaths.Root, "artifacts", "test-results", Driver + ".log");
    }

    public string Driver { get; }

    public string HostStateDirectory { get; }

    public string MountRoot { get; }

    public string SocketPath { get; }

    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("the plugin is not running");

    public bool IsRunning => _process is { HasExited: false };

    public string HostMountpointOf(string name) => Path.Combine(MountRoot, name);

    public async Task InitializeAsync()
    {
        await TestEnvironment.EnsureAsync();
        if (await AnswersAsync())
        {
            throw new InvalidOperationException(
                $"{SocketPath} is in use: another end-to-end test run is going on, or one left csvol running (find it with: fuser {SocketPath})");
        }

        await RemoveTreeAsync(); // what a crashed run left
        Directory.CreateDirectory(HostStateDirectory);
        Directory.CreateDirectory(MountRoot);
        Directory.CreateDirectory(Path.GetDirectoryName(_logPath)!);

        var start = new ProcessStartInfo(RepoPaths.CsvolBinary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["CSVOL_PROVIDER"] = "local";
        start.Environment["CSVOL_SOCKET"] = SocketPath;
        start.Environment["CSVOL_STATE_DIR"] = HostStateDirectory;
        start.Environment["CSVOL_MOUNT_ROOT"] = MountRoot;
        start.Environment["CSVOL_LOG_LEVEL"] = "debug";

        _log = new StreamWriter(_logPath, append: true) { AutoFlush = true };
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => WriteLog(e.Data);
        _process.ErrorDataReceived += (_, e) => WriteLog(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (!await AnswersAsync())
        {
            if (_process.HasExited || deadline.Elapsed > StartTimeout)
            {
                throw new InvalidOperationException(
                    $"unmanaged csvol ({RepoPaths.CsvolBinary}) did not listen on {SocketPath} " +
                    $"({(_process.HasExited ? $"exited with {_process.ExitCode}" : "timed out")}); log {_logPath}:\n{ReadLog()}");
            }

            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        await RemoveLeftoversAsync();
        if (_process is { HasExited: false })
        {
            // SIGTERM lets it shut down like a service stop would.
            await Cli.RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(stopped.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }
        }

        _process?.Dispose();
        if (_log is not null)
        {
            await _log.DisposeAsync();
        }

        File.Delete(SocketPath);
        await RemoveTreeAsync();
    }

    private async Task RemoveTreeAsync()
    {
        foreach (var mount in MountTable.Read().Where(m => m.MountPoint.StartsWith(MountRoot + "/", StringComparison.Ordinal)))
        {
            await Cli.RunAsync("umount", ["-l", mount.MountPoint]);
        }

        try
        {
            if (Directory.Exists(_root))
            {
                Directory.Delete(_root, recursive: true);
            }
        }
        catch (IOException)
        {
            // Something is still mounted under it; leave it rather than delete through a mount.
        }
    }

    private async Task RemoveLeftoversAsync()
    {
        var containers = await Docker.RunAsync("ps", "-aq", "--filter", "label=" + Docker.Label + "=" + Driver);
        foreach (var id in containers.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            await Docker.RunAsync("rm", "-f", id);
        }

        // The plugin's own records name its volumes; `docker volume ls` would also ask every stopped
        // unmanaged plugin dockerd still remembers, and wait for each.
        var records = Path.Combine(HostStateDirectory, "volumes");
        var names = Directory.Exists(records)
            ? Directory.EnumerateFiles(records, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>()
            : [];
        foreach (var name in names.ToList())
        {
            await Docker.RunAsync("volume", "rm", "-f", name);
        }
    }

    private async Task<bool> AnswersAsync()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void WriteLog(string? line)
    {
        if (line is not null)
        {
            lock (_logPath)
            {
                _log?.WriteLine(line);
            }
        }
    }

    private string ReadLog()
    {
        lock (_logPath)
        {
            _log?.Flush();
        }

        return File.Exists(_logPath) ? File.ReadAllText(_logPath) : "(no log)";
    }
}
