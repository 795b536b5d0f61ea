using System.Diagnostics;
using System.Net.Sockets;

namespace Csvol.Tests.Backends.Nfs.Rig;

/// <summary>
/// nfs-ganesha on this host's loopback only (127.0.0.1, a free port, NFSv4 over TCP, no UDP, NLM or rquota), exporting
/// directories of the rig's own scratch directory: <c>/exports/team</c> (no_root_squash) and <c>/exports/squash</c>
/// (root_squash, its root owned by root and 0755, as a real squashed export is to an anonymous user). Grace is off, so
/// a restarted server answers at once. No rpcbind is needed (NFSv4 clients mount with the port option).
/// </summary>
internal sealed class Ganesha : IAsyncDisposable
{
    private readonly string _dir;
    private Process? _process;

    public Ganesha(string dir, int port)
    {
        _dir = dir;
        Port = port;
        Directory.CreateDirectory(Team);
        Directory.CreateDirectory(Squash);
        Directory.CreateDirectory(Path.Join(dir, "recovery"));
        File.SetUnixFileMode(Squash, (UnixFileMode)Convert.ToInt32("755", 8));
        File.WriteAllText(Config, $$"""
            NFS_CORE_PARAM {
              Protocols = 4;
              NFS_Port = {{port}};
              Bind_addr = 127.0.0.1;
              Enable_NLM = false;
              Enable_RQUOTA = false;
              Enable_UDP = false;
            }
            NFSV4 {
              Graceless = true;
              Lease_Lifetime = 10;
              RecoveryBackend = fs;
              RecoveryRoot = {{Path.Join(dir, "recovery")}};
              Only_Numeric_Owners = true;
            }
            EXPORT_DEFAULTS {
              Access_Type = RW;
              Transports = TCP;
              SecType = sys;
              Protocols = 4;
              Attr_Expiration_Time = 0;
              Anonymous_uid = 65534;
              Anonymous_gid = 65534;
            }
            EXPORT {
              Export_Id = 1;
              Path = {{Team}};
              Pseudo = /exports/team;
              Squash = no_root_squash;
              FSAL { Name = VFS; }
            }
            EXPORT {
              Export_Id = 2;
              Path = {{Squash}};
              Pseudo = /exports/squash;
              Squash = root_squash;
              FSAL { Name = VFS; }
            }
            LOG { Default_Log_Level = EVENT; }
            """);
    }

    public int Port { get; }

    /// <summary>The host directory behind <c>nfs-server:/exports/team</c>: what the server really holds.</summary>
    public string Team => Path.Join(_dir, "exports", "team");

    public string Squash => Path.Join(_dir, "exports", "squash");

    private string Config => Path.Join(_dir, "ganesha.conf");

    public string Log => Path.Join(_dir, "ganesha.log");

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("ganesha.nfsd") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-F", "-L", Log, "-f", Config, "-p", Path.Join(_dir, "ganesha.pid"), "-N", "NIV_EVENT" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start ganesha.nfsd");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"ganesha.nfsd exited ({_process.ExitCode}): {await _process.StandardError.ReadToEndAsync()}; see {Log}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        Assert.Fail($"ganesha.nfsd does not listen on 127.0.0.1:{Port} after 30 s; see {Log}");
    }

    /// <summary>Stops the server the way an outage looks to clients: its port closes, every request goes unanswered.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process)
        {
            return;
        }

        _process = null;
        using (process)
        {
            if (!process.HasExited)
            {
                process.Kill(); // SIGKILL: an outage, not an orderly shutdown
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
        }
    }

    /// <summary>At the end an orderly stop (SIGTERM), so that ganesha unregisters whatever it registered.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await term.WaitForExitAsync();
            try
            {
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch (TimeoutException)
            {
                // StopAsync kills it.
            }
        }

        await StopAsync();
    }
}
