using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Csvol.Bench;

/// <summary>
/// <c>cold</c>: launches a command RUNS times and times each launch from process start to the first 200 from
/// POST /Plugin.Activate, then reads its VmHWM/VmRSS and stops it; the same JSON fields as <c>plugbench cold</c>.
/// </summary>
internal static class ColdCommand
{
    public static readonly string[] Options = ["sock", "runs", "env"];

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMicroseconds(200);
    private static readonly PluginRequest Activate = new("/Plugin.Activate", "{}");

    private sealed record Launch(double ReadyMs, double SockMs, int Attempts, int Pid, long HwmKb, long RssKb, string ActivateBody);

    public static void Run(CommandLine options)
    {
        var sock = options.Required("sock");
        var runs = options.Int("runs", 1, 1);
        var command = options.Rest;
        if (command.Count == 0)
        {
            throw new UsageException("cold needs the command to launch after --");
        }

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var assignment in options.All("env"))
        {
            var equals = assignment.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"--env takes NAME=VALUE, not \"{assignment}\"");
            }

            environment[assignment[..equals]] = assignment[(equals + 1)..];
        }

        WarmUp();
        var launches = new List<Launch>();
        for (var r = 0; r < runs; r++)
        {
            RemoveStaleSocket(sock);
            launches.Add(LaunchOnce(sock, command, environment));
        }

        var ready = launches.Select(l => l.ReadyMs).Order().ToArray();
        var middle = ready.Length / 2;
        JsonLine.Write(json =>
        {
            json.WriteString("mode", "cold");
            json.WriteString("sock", sock);
            json.WriteStartArray("command");
            foreach (var word in command)
            {
                json.WriteStringValue(word);
            }

            json.WriteEndArray();
            json.WriteStartArray("runs");
            foreach (var launch in launches)
            {
                json.WriteStartObject();
                json.WriteNumber("ready_ms", launch.ReadyMs);
                json.WriteNumber("sock_ms", launch.SockMs);
                json.WriteNumber("attempts", launch.Attempts);
                json.WriteNumber("pid", launch.Pid);
                json.WriteNumber("vmhwm_kb", launch.HwmKb);
                json.WriteNumber("vmrss_kb", launch.RssKb);
                json.WriteString("activate_body", launch.ActivateBody);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNumber("min_ms", ready[0]);
            json.WriteNumber("median_ms", ready.Length % 2 == 1 ? ready[middle] : JsonLine.Round((ready[middle - 1] + ready[middle]) / 2, 3));
            json.WriteNumber("max_ms", ready[^1]);
        });
    }

    private static Launch LaunchOnce(string sock, IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment)
    {
        var child = ChildProcess.Start(command, environment);
        var started = child.StartedAt;
        try
        {
            var sockMs = -1.0;
            for (var attempts = 1; ; attempts++)
            {
                if (Stopwatch.GetElapsedTime(started) > Timeout)
                {
                    throw new TimeoutException($"cold: not ready after {Timeout.TotalSeconds} s");
                }

                if (child.HasExited())
                {
                    throw new InvalidOperationException($"cold: command exited before ready: {child.ExitReason}");
                }

                // Until the socket file exists a connect can only fail; skipping it spares the CPU the starting
                // command needs (a failed connect costs a .NET exception).
                var exists = Path.Exists(sock);
                if (sockMs < 0 && exists)
                {
                    sockMs = Milliseconds(started);
                }

                if (exists && TryActivate(sock) is { } body)
                {
                    var readyMs = Milliseconds(started);
                    var (hwm, rss) = ProcStatus.Memory(child.Pid);
                    return new Launch(readyMs, sockMs, attempts, child.Pid, hwm, rss, body);
                }

                ChildProcess.Pause(Poll);
            }
        }
        finally
        {
            child.Stop();
        }
    }

    /// <summary>
    /// Runs the polling code once against a socket nobody serves and once against a canned answer in this
    /// process, so that JIT compiling it does not land in the first launch's time.
    /// </summary>
    private static void WarmUp()
    {
        var path = Path.Combine(Path.GetTempPath(), $"csvol-bench-{Environment.ProcessId}.sock");
        File.Delete(path);
        _ = Path.Exists(path);
        _ = TryActivate(path);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var server = new Thread(() =>
        {
            using var connection = listener.Accept();
            var request = new List<byte>();
            var buffer = new byte[1024];
            while (!request.ToArray().AsSpan().EndsWith("\r\n\r\n{}"u8))
            {
                var received = connection.Receive(buffer);
                if (received == 0)
                {
                    return;
                }

                request.AddRange(buffer.AsSpan(0, received));
            }

            _ = connection.Send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"u8);
        });
        server.Start();
        var answer = TryActivate(path);
        server.Join();
        File.Delete(path);
        if (answer != "{}")
        {
            throw new InvalidOperationException("cold: the warm-up exchange with this process's own socket failed");
        }
    }

    /// <summary>A socket file left by an earlier run is removed; one that still answers belongs to someone else.</summary>
    private static void RemoveStaleSocket(string sock)
    {
        if (!Path.Exists(sock))
        {
            return;
        }

        if (TryActivate(sock) is not null)
        {
            throw new InvalidOperationException($"cold: {sock} is already served by another process; stop it first");
        }

        File.Delete(sock);
    }

    /// <summary>The body of a 200 answer to Activate on a new connection, or null.</summary>
    private static string? TryActivate(string sock)
    {
        using var connection = new PluginConnection(sock, TimeSpan.FromSeconds(2));
        try
        {
            connection.Connect();
            return connection.Send(Activate.For(0, [])) == 200 ? Encoding.UTF8.GetString(connection.Body).Trim() : null;
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            return null;
        }
    }

    private static double Milliseconds(long started) => JsonLine.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
}
