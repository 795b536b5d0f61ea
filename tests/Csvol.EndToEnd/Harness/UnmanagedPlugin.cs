using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// csvol as a host process (an unmanaged plugin): its own socket in /run/docker/plugins, which makes its
/// socket name the driver name, and its own state directory and mount root.
/// </summary>
/// <remarks>
/// dockerd remembers every unmanaged driver it has used until it restarts, and asks each one whenever it
/// looks for a volume name it does not know (`docker volume ls`, inspect or create of a new name), waiting
/// ~15 s for one whose socket is gone. So there is one fixed name, and the process runs while any test
/// collection runs (<see cref="AcquireAsync"/>); between collections nothing talks to dockerd.
/// </remarks>
public sealed class UnmanagedPlugin : IPluginUnderTest
{
    private const string PluginDirectory = "/run/docker/plugins";
    private const string PidFile = "/run/csvol-test/csvol-e2e.pid";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _root;
    private readonly string _logPath;
    private static readonly SemaphoreSlim SharedLock = new(1, 1);
    private static UnmanagedPlugin? _shared;
    private static int _users;

    private Process? _process;
    private StreamWriter? _log;

    private UnmanagedPlugin()
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

    /// <summary>Starts the shared plugin for the first user; later users get the running one.</summary>
    public static async Task<UnmanagedPlugin> AcquireAsync()
    {
        await SharedLock.WaitAsync();
        try
        {
            if (_shared is null)
            {
                var plugin = new UnmanagedPlugin();
                await plugin.StartAsync();
                _shared = plugin;
            }

            _users++;
            return _shared;
        }
        finally
        {
            SharedLock.Release();
        }
    }

    /// <summary>Stops the shared plugin when its last user is done.</summary>
    public static async Task ReleaseAsync()
    {
        await SharedLock.WaitAsync();
        try
        {
            if (--_users == 0 && _shared is not null)
            {
                await _shared.StopAsync();
                _shared = null;
            }
        }
        finally
        {
            SharedLock.Release();
        }
    }

    private async Task StartAsync()
    {
        await TestEnvironment.EnsureAsync();
        await StopOrphanAsync();
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
        start.Environment["CSVOL_BACKEND"] = "local";
        start.Environment["CSVOL_SOCKET"] = SocketPath;
        start.Environment["CSVOL_STATE_DIR"] = HostStateDirectory;
        start.Environment["CSVOL_MOUNT_ROOT"] = MountRoot;
        start.Environment["CSVOL_LOG_LEVEL"] = "debug";

        _log = new StreamWriter(_logPath, append: true) { AutoFlush = true };
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => WriteLog(e.Data);
        _process.ErrorDataReceived += (_, e) => WriteLog(e.Data);
        _process.Start();
        await File.WriteAllTextAsync(PidFile, _process.Id.ToString(CultureInfo.InvariantCulture));
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

    private async Task StopAsync()
    {
        await RemoveLeftoversAsync();
        if (_process is { HasExited: false })
        {
            // SIGTERM lets it shut down like a service stop would.
            await Cli.RunAsync("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
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
        File.Delete(PidFile);
        await RemoveTreeAsync();
    }

    /// <summary>Stops the csvol a killed test run left behind: only the process our pid file names, and only if it is csvol.</summary>
    private static async Task StopOrphanAsync()
    {
        if (!File.Exists(PidFile) || !int.TryParse(await File.ReadAllTextAsync(PidFile), out var pid))
        {
            return;
        }

        var process = $"/proc/{pid}";
        // The link reads "…/csvol (deleted)" once a later publish replaced the binary.
        var executable = Directory.Exists(process) ? new FileInfo(process + "/exe").LinkTarget : null;
        if (executable is not null && Path.GetFileName(executable).Split(' ')[0] == "csvol")
        {
            await Cli.RunAsync("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]);
            for (var i = 0; i < 100 && Directory.Exists(process); i++)
            {
                await Task.Delay(100);
            }
        }

        File.Delete(PidFile);
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
