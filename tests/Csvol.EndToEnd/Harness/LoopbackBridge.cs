using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// Makes a TCP port on the host's loopback reachable at the same port on the loopback of another network namespace
/// (a private dockerd's, where its managed plugins with network type "host" run): a listener created inside that
/// namespace, each connection copied to and from 127.0.0.1:PORT in the test's own namespace. Traffic only ever goes
/// between two loopbacks; no link, route or process is added, and disposing closes everything.
/// </summary>
/// <remarks>
/// A socket belongs to the network namespace its creating thread was in, for its whole life. So a dedicated thread
/// enters the target namespace (<c>setns</c> affects only the calling thread), creates the listening socket and goes
/// back; accepting and copying then run on ordinary threads.
/// </remarks>
public sealed class LoopbackBridge : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly Socket _listener;
    private readonly int _port;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<Socket> _open = [];

    private LoopbackBridge(Socket listener, int port)
    {
        _listener = listener;
        _port = port;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> in the network namespace of process <paramref name="pid"/>.</summary>
    public static LoopbackBridge Open(int pid, int port)
    {
        Socket? listener = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                listener = ListenInNamespace($"/proc/{pid}/ns/net", port);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null
            ? new LoopbackBridge(listener!, port)
            : throw new InvalidOperationException($"cannot listen on 127.0.0.1:{port} in the network namespace of pid {pid}: {failure.Message}", failure);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
        }

        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        _stop.Dispose();
    }

    private static Socket ListenInNamespace(string namespacePath, int port)
    {
        using var own = File.OpenHandle("/proc/thread-self/ns/net");
        using var target = File.OpenHandle(namespacePath);
        Check(setns((int)target.DangerousGetHandle(), CloneNewNet), "setns " + namespacePath);
        try
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                socket.Listen(64);
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        finally
        {
            // Back home, although the thread ends next: nothing else should ever run in the wrong namespace.
            Check(setns((int)own.DangerousGetHandle(), CloneNewNet), "setns back");
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var inside = await _listener.AcceptAsync(_stop.Token);
            _ = Task.Run(() => ForwardAsync(inside));
        }
    }

    private async Task ForwardAsync(Socket inside)
    {
        var outside = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lock (_open)
        {
            _open.Add(inside);
            _open.Add(outside);
        }

        try
        {
            await outside.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _port), _stop.Token);
            await using var a = new NetworkStream(inside, ownsSocket: false);
            await using var b = new NetworkStream(outside, ownsSocket: false);
            await Task.WhenAll(CopyAsync(a, b, outside), CopyAsync(b, a, inside));
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A connection the plugin or the fake dropped (or the bridge closing): nothing to forward any more.
        }
        finally
        {
            lock (_open)
            {
                _ = _open.Remove(inside);
                _ = _open.Remove(outside);
            }

            inside.Dispose();
            outside.Dispose();
        }
    }

    /// <summary>Copies one direction, then half-closes the other side so HTTP's end of request or response passes on.</summary>
    private async Task CopyAsync(Stream from, Stream to, Socket toSocket)
    {
        await from.CopyToAsync(to, _stop.Token);
        toSocket.Shutdown(SocketShutdown.Send);
    }

    private static void Check(int result, string operation)
    {
        if (result != 0)
        {
            throw new IOException($"{operation}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    // DllImport, not LibraryImport: the test project does not allow unsafe code, and ints need no marshalling.
#pragma warning disable SYSLIB1054, CA5392, IDE1006
    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
#pragma warning restore SYSLIB1054, CA5392, IDE1006
}
