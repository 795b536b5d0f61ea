using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Csvol.Hosting;

internal static class UnixSocket
{
    /// <summary>Read and write for root and the socket's group; dockerd runs as root.</summary>
    public const UnixFileMode Mode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    /// <summary>
    /// Makes <paramref name="path"/> free to listen on: a socket file nobody answers on is left over from a
    /// crash and is removed; one that answers belongs to a running csvol, which start-up must not steal.
    /// </summary>
    public static void Prepare(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new InvalidOperationException(
                    $"{CsvolSettings.SocketVariable}={path} is in use by another running process; stop it or choose another socket path");
            }
            catch (SocketException)
            {
                // Nobody listens: stale.
            }
        }

        File.Delete(path);
    }

    /// <summary>
    /// Kestrel's bind, then the socket file's mode set explicitly rather than left to the umask. Kestrel calls listen(2)
    /// only after this returns, so no connection is possible before the mode is set.
    /// </summary>
    public static Socket Bind(EndPoint endpoint)
    {
        var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
        if (endpoint is UnixDomainSocketEndPoint)
        {
            try
            {
                File.SetUnixFileMode(endpoint.ToString()!, Mode);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        return socket;
    }
}
