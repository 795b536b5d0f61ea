using System.Runtime.ExceptionServices;
using System.Text;
using Csvol.Backends.Local;
using Csvol.Hosting;
using Csvol.Linux;
using Csvol.Mounting;
using Microsoft.Extensions.Configuration;

namespace Csvol.Bench;

/// <summary>
/// <c>alloc</c>: managed bytes the plugin allocates per request on its hot paths. Starts the real plugin in this
/// process (as tests/Csvol.Tests/Support/PluginHost.cs does: Kestrel, VolumeService, the local backend, mount(2))
/// on a private socket and directories, and drives it from one thread with the same lean client as load. The
/// figure is the process's allocation over N requests minus the client thread's own, divided by N.
/// </summary>
internal static class AllocCommand
{
    public static readonly string[] Options = ["n", "warmup", "mount-n"];

    private const string Volume = """{"Name":"v1"}""";
    private const string Mount = """{"Name":"v1","ID":"csvol-bench"}""";

    /// <summary>
    /// What one iteration sends. MountUnmount's figure is per pair (a Mount and its Unmount); each pair calls
    /// mount(2) and umount(2) and persists the record twice (about 4 ms), so it runs <c>--mount-n</c> times.
    /// </summary>
    private static readonly (string Name, PluginRequest[] Requests)[] Paths =
    [
        ("Capabilities", [new("/VolumeDriver.Capabilities", "{}")]),
        ("Get", [new("/VolumeDriver.Get", Volume)]),
        ("Path", [new("/VolumeDriver.Path", Volume)]),
        ("List_1", [new("/VolumeDriver.List", "{}")]),
        ("MountUnmount", [new("/VolumeDriver.Mount", Mount), new("/VolumeDriver.Unmount", Mount)]),
    ];

    public static async Task RunAsync(CommandLine options)
    {
        var n = options.Int("n", 20000, 1);
        var warmup = options.Int("warmup", 1000, 0);
        var mountN = options.Int("mount-n", Math.Min(n, 2000), 1);
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("alloc mounts a volume (mount(2)) and must run as root");
        }

        var dir = Path.Combine(Path.GetTempPath(), "csvol-bench-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var stdout = Console.Out;
        Console.SetOut(Console.Error); // the plugin logs to Console.Out; stdout carries only the result
        double[] bytesPerRequest;
        try
        {
            var socket = Path.Combine(dir, "csvol.sock");
            var variables = new Dictionary<string, string?>
            {
                [CsvolSettings.SocketVariable] = socket,
                [CsvolSettings.StateDirVariable] = Path.Combine(dir, "state"),
                [CsvolSettings.MountRootVariable] = Path.Combine(dir, "mnt"),
                [CsvolSettings.LogLevelVariable] = "warning",
            };
            await using var app = CsvolApp.Create(settings => settings.AddInMemoryCollection(variables));
            await app.StartAsync();
            try
            {
                bytesPerRequest = OnOwnThread(() => Measure(socket, n, mountN, warmup));
            }
            finally
            {
                await app.StopAsync();
            }
        }
        finally
        {
            Console.SetOut(stdout);
            Delete(dir);
        }

        JsonLine.Write(json =>
        {
            json.WriteString("mode", "alloc");
            json.WriteNumber("n", n);
            json.WriteNumber("mount_n", mountN);
            json.WriteNumber("warmup", warmup);
            json.WriteStartObject("bytes_per_request");
            for (var i = 0; i < Paths.Length; i++)
            {
                json.WriteNumber(Paths[i].Name, bytesPerRequest[i]);
            }

            json.WriteEndObject();
        });
    }

    private static double[] Measure(string socket, int n, int mountN, int warmup)
    {
        using var connection = new PluginConnection(socket, TimeSpan.FromSeconds(60));
        connection.Connect();
        var scratch = new byte[4096];
        Call(connection, new PluginRequest("/VolumeDriver.List", "{}"), scratch); // answers once the state has loaded
        Call(connection, new PluginRequest("/VolumeDriver.Create", Volume), scratch);

        var results = new double[Paths.Length];
        for (var p = 0; p < Paths.Length; p++)
        {
            var (name, requests) = Paths[p];
            var iterations = name == "MountUnmount" ? mountN : n;
            for (var i = 0; i < Math.Min(warmup, iterations); i++)
            {
                foreach (var request in requests)
                {
                    Call(connection, request, scratch);
                }
            }

            var total = GC.GetTotalAllocatedBytes(precise: true);
            var mine = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < iterations; i++)
            {
                foreach (var request in requests)
                {
                    Call(connection, request, scratch);
                }
            }

            var mineAfter = GC.GetAllocatedBytesForCurrentThread();
            var totalAfter = GC.GetTotalAllocatedBytes(precise: true);
            results[p] = JsonLine.Round((double)((totalAfter - total) - (mineAfter - mine)) / iterations, 1);
        }

        return results;
    }

    /// <summary>One request that must succeed: a failing path would measure the error path's allocations.</summary>
    private static void Call(PluginConnection connection, PluginRequest request, byte[] scratch)
    {
        var status = connection.Send(request.For(0, scratch));
        if (status != 200 || !PluginConnection.ErrOf(connection.Body).IsEmpty)
        {
            throw new InvalidOperationException(
                $"{request.Endpoint} answered {status}: {Encoding.UTF8.GetString(connection.Body)}");
        }
    }

    /// <summary>Runs on a dedicated thread, so that the thread's allocation counter is the client's alone.</summary>
    private static T OnOwnThread<T>(Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception ex)
            {
                failure = ExceptionDispatchInfo.Capture(ex);
            }
        })
        { Name = "alloc client" };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    /// <summary>Unmounts whatever is still mounted under <paramref name="dir"/>, then deletes it.</summary>
    private static void Delete(string dir)
    {
        var mounts = File.ReadLines("/proc/self/mountinfo")
            .Select(MountTable.ParseMountpoint)
            .OfType<string>()
            .Where(m => m == dir || m.StartsWith(dir + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.Length);
        foreach (var mountpoint in mounts)
        {
            _ = Libc.TryUnmount(mountpoint, UnmountFlags.Detach);
        }

        _ = SafeTree.Delete(dir);
    }
}
