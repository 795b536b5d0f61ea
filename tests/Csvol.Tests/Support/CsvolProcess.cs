using System.Diagnostics;
using System.Text;

namespace Csvol.Tests.Support;

/// <summary>The real csvol executable as a separate process, for what only a process can show: exit codes, kill -9.</summary>
internal sealed class CsvolProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private CsvolProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>
    /// The shipped Native AOT binary of <c>csvol/local</c>, not the JIT build beside the tests: a crash test of a
    /// different binary proves nothing about the one in the plugin. <c>CSVOL_TEST_BINARY</c> overrides the path.
    /// </summary>
    public static string Executable => FindExecutable("local");

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="environment">The process's settings.</param>
    /// <param name="backend">Whose plugin binary to run (scripts/publish.sh BACKEND): each has only its own backend.</param>
    public static CsvolProcess Start(IReadOnlyDictionary<string, string> environment, string backend = "local")
    {
        var start = new ProcessStartInfo(FindExecutable(backend)) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return new CsvolProcess(Process.Start(start)!);
    }

    public static Dictionary<string, string> EnvironmentFor(TempDir dir) => new()
    {
        ["CSVOL_SOCKET"] = dir.Sub("csvol.sock"),
        ["CSVOL_STATE_DIR"] = dir.Sub("state"),
        ["CSVOL_MOUNT_ROOT"] = dir.Sub("mnt"),
        ["CSVOL_LOG_LEVEL"] = "warning",
    };

    /// <summary>Waits until the plugin answers List, i.e. its state is loaded.</summary>
    public async Task<PluginClient> WaitUntilReadyAsync(string socket)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(_process.HasExited, $"csvol exited with {(_process.HasExited ? _process.ExitCode : 0)}: {Output}");
            if (File.Exists(socket))
            {
                var client = new PluginClient(socket);
                try
                {
                    if ((await client.PostAsync("/VolumeDriver.List")).Status == 200)
                    {
                        return client;
                    }
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }

                client.Dispose();
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"csvol did not answer within 30 s: {Output}");
            await Task.Delay(50);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        _process.WaitForExit(); // drains redirected output
        return _process.ExitCode;
    }

    public void Kill9()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill9();
        }

        _process.Dispose();
    }

    private static string FindExecutable(string backend)
    {
        var overridden = backend == "local" ? Environment.GetEnvironmentVariable("CSVOL_TEST_BINARY") : null;
        var binary = string.IsNullOrEmpty(overridden)
            ? Path.Combine(RepositoryRoot(), "artifacts", "publish", backend, "csvol")
            : overridden;
        Assert.True(File.Exists(binary),
            $"no csvol binary at {binary}: run scripts/publish.sh {backend} first (make test does), or point CSVOL_TEST_BINARY at a published csvol");
        return binary;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VolumeDriver.sln")))
            {
                return dir.FullName;
            }
        }

        Assert.Fail($"no VolumeDriver.sln in {AppContext.BaseDirectory} or any directory above it; the tests run from inside the repository");
        return "";
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
