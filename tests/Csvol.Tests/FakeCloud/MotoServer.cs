using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Csvol.Tests.Support;

namespace Csvol.Tests.FakeCloud;

/// <summary>moto's EC2 server (<c>moto_server -H 127.0.0.1 -p PORT</c>) as a child process, for a second opinion on the fake.</summary>
public sealed class MotoServer : IAsyncLifetime
{
    private Process? _process;

    public Uri BaseUri { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var port = FreePort();
        var start = new ProcessStartInfo(Executable()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            _process = Process.Start(start);
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"moto_server is not installed ({e.Message}); install it with: pip install 'moto[server]'");
        }

        // Drain its request log so a full pipe never blocks it.
        _process!.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        Assert.True(await Eventually.TrueAsync(() => Listening(port)), $"moto_server did not listen on port {port} within {Eventually.DefaultBound}");
    }

    /// <summary>
    /// moto_server from PATH, else from pyenv's shims: these machines install moto with pyenv's Python, whose shims a
    /// shell that did not read ~/.bashrc may not have on its PATH.
    /// </summary>
    private static string Executable()
    {
        var home = Environment.GetEnvironmentVariable("HOME") ?? "/root";
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "moto_server"));
        return onPath.Append(Path.Combine(home, ".pyenv", "shims", "moto_server")).FirstOrDefault(File.Exists) ?? "moto_server";
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
        }

        _process?.Dispose();
        return Task.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<bool> Listening(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
