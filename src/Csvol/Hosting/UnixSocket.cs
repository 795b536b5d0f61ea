using System.Net.Sockets;

namespace Csvol.Hosting;

internal static class UnixSocket
{
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
}
