using System.Diagnostics;
using System.Text;

namespace Csvol.Bench;

/// <summary>
/// <c>load</c>: N requests over C keep-alive connections, one thread each; the same measurement and JSON fields
/// as <c>plugbench load</c>. A 200 whose body has a non-empty "Err" counts as an error.
/// With <c>--then ENDPOINT</c> each measured request is a pair: the same body goes to ENDPOINT right after
/// (Mount then Unmount), and the latency covers both.
/// </summary>
internal static class LoadCommand
{
    public static readonly string[] Options = ["sock", "endpoint", "then", "body", "keyspace", "n", "c", "warmup", "pid"];

    public static void Run(CommandLine options)
    {
        var sock = options.Required("sock");
        var endpoint = options.Optional("endpoint") ?? "/VolumeDriver.Get";
        var body = options.Optional("body") ?? """{"Name":"v1"}""";
        var keyspace = options.Int("keyspace", 0, 0);
        var request = new PluginRequest(endpoint, body, keyspace);
        var then = options.Optional("then") is { } second ? new PluginRequest(second, body, keyspace) : null;
        var n = options.Int("n", 20000, 1);
        var c = options.Int("c", 1, 1);
        var warmEach = options.Int("warmup", 1000, 0) / c;
        var pid = options.Int("pid", 0, 0);

        using var run = new Workers(sock, request, then, n, c, warmEach);
        var workers = new Thread[c];
        for (var w = 0; w < c; w++)
        {
            var worker = w;
            workers[w] = new Thread(() => run.Work(worker)) { IsBackground = true, Name = $"load {w}" };
            workers[w].Start();
        }

        run.Ready.Wait();
        var started = Stopwatch.GetTimestamp();
        run.Start.Set();
        foreach (var worker in workers)
        {
            worker.Join();
        }

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var good = run.Latencies.Where(t => t >= 0).Order().ToArray();
        JsonLine.Write(json =>
        {
            json.WriteString("mode", "load");
            json.WriteString("sock", sock);
            json.WriteString("endpoint", then is null ? endpoint : endpoint + "+" + then.Endpoint);
            json.WriteNumber("n", n);
            json.WriteNumber("c", c);
            json.WriteNumber("warmup", warmEach * c);
            json.WriteNumber("ok", run.Ok);
            json.WriteNumber("errors", run.Errors);
            json.WriteNumber("reconnects", run.Reconnects);
            json.WriteNumber("elapsed_s", JsonLine.Round(elapsed, 4));
            json.WriteNumber("rps", good.Length == 0 ? 0 : JsonLine.Round(good.Length / elapsed, 1));
            json.WriteNumber("min_us", Micros(good.FirstOrDefault()));
            json.WriteNumber("mean_us", good.Length == 0 ? 0 : Micros((long)good.Average()));
            json.WriteNumber("p50_us", Micros(Percentile(good, 50)));
            json.WriteNumber("p90_us", Micros(Percentile(good, 90)));
            json.WriteNumber("p99_us", Micros(Percentile(good, 99)));
            json.WriteNumber("max_us", Micros(good.LastOrDefault()));
            json.WriteNumber("resp_bytes_avg", good.Length == 0 ? 0 : JsonLine.Round((double)run.ResponseBytes / good.Length, 1));
            if (run.FirstError is { } firstError)
            {
                json.WriteString("first_error", firstError);
            }

            if (pid > 0)
            {
                var (hwm, rss) = ProcStatus.Memory(pid);
                json.WriteNumber("pid", pid);
                json.WriteNumber("vmhwm_kb", hwm);
                json.WriteNumber("vmrss_kb", rss);
            }
        });
    }

    /// <summary>Nearest-rank percentile of sorted values, as plugbench computes it.</summary>
    private static long Percentile(long[] sorted, double percent) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double Micros(long ticks) => JsonLine.Round(ticks * 1e6 / Stopwatch.Frequency, 1);

    private sealed class Workers(string sock, PluginRequest request, PluginRequest? then, int n, int c, int warmEach) : IDisposable
    {
        private int _next = -1;
        private long _ok;
        private long _errors;
        private long _reconnects;
        private long _responseBytes;
        private string? _firstError;

        /// <summary>Stopwatch ticks per measured request, by request number; -1 where the transport failed.</summary>
        public long[] Latencies { get; } = new long[n];

        /// <summary>Set when every worker has connected and warmed up.</summary>
        public CountdownEvent Ready { get; } = new(c);

        public ManualResetEventSlim Start { get; } = new();

        public long Ok => _ok;

        public long Errors => _errors;

        public long Reconnects => _reconnects;

        public long ResponseBytes => _responseBytes;

        public string? FirstError => _firstError;

        public void Work(int worker)
        {
            var scratch = new byte[Math.Max(request.MaxLength, then?.MaxLength ?? 0)];
            using var connection = new PluginConnection(sock, TimeSpan.FromSeconds(10));
            try
            {
                connection.Connect();
            }
            catch (Exception ex)
            {
                RecordError("dial: " + ex.Message);
            }

            for (var i = 0; i < warmEach; i++)
            {
                try
                {
                    _ = connection.Send(request.For(n + (worker * warmEach) + i, scratch));
                    if (then is not null)
                    {
                        _ = connection.Send(then.For(n + (worker * warmEach) + i, scratch));
                    }
                }
                catch (Exception)
                {
                    // warm-up failures are not counted; the next request reconnects
                }
            }

            var reconnectsBefore = connection.Reconnects;
            Ready.Signal();
            Start.Wait();
            for (var i = Interlocked.Increment(ref _next); i < n; i = Interlocked.Increment(ref _next))
            {
                var sent = Stopwatch.GetTimestamp();
                int status;
                try
                {
                    status = connection.Send(request.For(i, scratch));
                    if (then is not null && status == 200 && PluginConnection.ErrOf(connection.Body).IsEmpty)
                    {
                        status = connection.Send(then.For(i, scratch));
                    }
                }
                catch (Exception ex)
                {
                    Latencies[i] = -1;
                    RecordError(ex.Message);
                    continue;
                }

                Latencies[i] = Stopwatch.GetTimestamp() - sent;
                var body = connection.Body;
                _ = Interlocked.Add(ref _responseBytes, body.Length);
                if (status != 200)
                {
                    RecordError($"status {status}: {Encoding.UTF8.GetString(body[..Math.Min(body.Length, 200)])}");
                }
                else if (!PluginConnection.ErrOf(body).IsEmpty)
                {
                    RecordError("Err: " + Encoding.UTF8.GetString(PluginConnection.ErrOf(body)));
                }
                else
                {
                    _ = Interlocked.Increment(ref _ok);
                }
            }

            _ = Interlocked.Add(ref _reconnects, connection.Reconnects - reconnectsBefore);
        }

        public void Dispose()
        {
            Ready.Dispose();
            Start.Dispose();
        }

        private void RecordError(string message)
        {
            _ = Interlocked.Increment(ref _errors);
            _ = Interlocked.CompareExchange(ref _firstError, message, null);
        }
    }
}
