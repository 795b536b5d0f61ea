using System.Net.Sockets;
using System.Text;
using Csvol.Tests.Support;

namespace Csvol.Tests.Hosting;

/// <summary>What a test learns about the process behind a plugin socket, and how it signals it, from outside.</summary>
internal static class PluginPeer
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The pid of the process that accepted a connection on <paramref name="socket"/> (SO_PEERCRED).</summary>
    public static int PidServing(string socket)
    {
        using var connection = Connect(socket);
        return PidOf(connection);
    }

    public static int PidOf(Socket connection)
    {
        var credentials = new byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        _ = connection.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        return BitConverter.ToInt32(credentials, 0);
    }

    public static Socket Connect(string socket)
    {
        var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        connection.Connect(new UnixDomainSocketEndPoint(socket));
        return connection;
    }

    /// <summary>A connection that sent the start of a request and never finishes its headers.</summary>
    public static Socket ConnectAndStall(string socket)
    {
        var connection = Connect(socket);
        connection.Send(Encoding.ASCII.GetBytes("POST /VolumeDriver.List HTTP/1.1\r\nHost: plugin\r\nContent-Le"));
        return connection;
    }

    /// <summary>What <c>docker plugin disable</c> sends.</summary>
    public static Task TerminateAsync(int pid) =>
        ProcessRunner.RunAsync("kill", "-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
