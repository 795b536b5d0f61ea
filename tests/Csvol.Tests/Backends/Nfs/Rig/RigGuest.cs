using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.Nfs.Rig;

/// <summary>
/// One Docker host of the rig: a QEMU guest (TCG, no KVM needed) with its own kernel and NFS client, running the
/// published csvol with CSVOL_BACKEND=nfs. Reached only through two loopback ports qemu forwards into it: the plugin's
/// socket (relayed by socat in the guest) and a shell that runs each connection's text as a script.
/// </summary>
internal sealed class RigGuest : IAsyncDisposable
{
    private const int GuestPluginPort = 7000;
    private const int GuestShellPort = 7001;

    private readonly Process _qemu;
    private readonly int _shellPort;

    private RigGuest(string name, Process qemu, int pluginPort, int shellPort, string console)
    {
        Name = name;
        _qemu = qemu;
        _shellPort = shellPort;
        Console = console;
        Plugin = new PluginClient(pluginPort, TimeSpan.FromSeconds(120));
    }

    public string Name { get; }

    /// <summary>The guest's serial console (kernel messages), for reading when something fails.</summary>
    public string Console { get; }

    public PluginClient Plugin { get; }

    public static RigGuest Boot(string name, string kernel, string initrd, string dir, int nfsPort, IReadOnlyDictionary<string, string> settings)
    {
        var pluginPort = NfsRig.FreePort();
        var shellPort = NfsRig.FreePort();
        var console = Path.Join(dir, $"console-{name}.log");
        var append = new StringBuilder("console=ttyS0 quiet panic=-1");
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["RIG_HOST"] = name,
            ["RIG_PLUGIN_PORT"] = GuestPluginPort.ToString(CultureInfo.InvariantCulture),
            ["RIG_SHELL_PORT"] = GuestShellPort.ToString(CultureInfo.InvariantCulture),
            ["CSVOL_BACKEND"] = "nfs",
            ["CSVOL_NFS_SERVER"] = "nfs-server", // /etc/hosts in the guest: resolved at each mount
            ["CSVOL_NFS_SHARE"] = "/exports/team",
            ["CSVOL_NFS_OPTIONS"] = $"vers=4.1,port={nfsPort}",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        foreach (var (key, value) in environment)
        {
            append.Append(' ').Append(key).Append('=').Append(value);
        }

        var start = new ProcessStartInfo("qemu-system-x86_64") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "-accel", "tcg", "-m", "384", "-smp", "1", "-display", "none", "-monitor", "none", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", append.ToString(),
            // Loopback only: the forwarded ports listen on 127.0.0.1, and the guest has no default route, so it reaches
            // 10.0.2.2 (qemu's alias of this host's 127.0.0.1, where ganesha listens) and nothing else.
            "-nic", $"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{pluginPort}-:{GuestPluginPort},hostfwd=tcp:127.0.0.1:{shellPort}-:{GuestShellPort}",
            "-serial", "file:" + console,
        })
        {
            start.ArgumentList.Add(argument);
        }

        var qemu = Process.Start(start) ?? throw new InvalidOperationException("could not start qemu-system-x86_64");
        return new RigGuest(name, qemu, pluginPort, shellPort, console);
    }

    /// <summary>Waits until the guest's shell and csvol answer.</summary>
    public async Task ReadyAsync(TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (DateTime.UtcNow < deadline)
        {
            if (_qemu.HasExited)
            {
                Assert.Fail($"guest {Name}: qemu exited ({_qemu.ExitCode}): {await _qemu.StandardError.ReadToEndAsync()}; console: {Console}");
            }

            if (!File.Exists(Console) || !(await File.ReadAllTextAsync(Console)).Contains($"rig: {Name} ready", StringComparison.Ordinal))
            {
                await Task.Delay(250);
                continue; // its init script has not started the relays yet
            }

            try
            {
                var (code, _) = await ShellAsync("test -S /run/csvol/csvol.sock", TimeSpan.FromSeconds(5));
                if (code == 0 && (await Plugin.PostAsync("/Plugin.Activate")).Status == 200)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException or HttpRequestException or TimeoutException or OperationCanceledException)
            {
                // Not up yet: qemu accepts forwarded connections before the guest listens, and drops them.
            }

            await Task.Delay(250);
        }

        Assert.Fail($"guest {Name} did not answer within {bound.TotalSeconds:0} s; console: {Console}");
    }

    /// <summary>Runs <paramref name="script"/> with the guest's /bin/sh; its exit code and output (stdout and stderr).</summary>
    public async Task<(int Code, string Output)> ShellAsync(string script, TimeSpan? bound = null)
    {
        using var timeout = new CancellationTokenSource(bound ?? TimeSpan.FromSeconds(60));
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", _shellPort, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes($"( {script}\n) 2>&1; echo \"__rc=$?\"\n"), timeout.Token);
        client.Client.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var output = await reader.ReadToEndAsync(timeout.Token);
        var marker = output.LastIndexOf("__rc=", StringComparison.Ordinal);
        if (marker < 0)
        {
            throw new IOException($"guest {Name}: the shell closed before the script finished: {output}");
        }

        return (int.Parse(output[(marker + 5)..].Trim(), CultureInfo.InvariantCulture), output[..marker]);
    }

    /// <summary>Runs a script that must succeed; its output.</summary>
    public async Task<string> RunAsync(string script)
    {
        var (code, output) = await ShellAsync(script);
        Assert.True(code == 0, $"guest {Name}: `{script}` exited {code}: {output}");
        return output;
    }

    public async ValueTask DisposeAsync()
    {
        Plugin.Dispose();
        if (!_qemu.HasExited)
        {
            _qemu.Kill(); // the guest is disposable: its mounts and state live only in its memory
            await _qemu.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        _qemu.Dispose();
    }
}
