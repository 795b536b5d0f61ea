using System.Globalization;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// A named private dockerd beside the default test daemon (<c>CSVOL_TEST_DOCKERD_NAME=NAME scripts/dockerd.sh</c>): its own
/// network namespace, socket, data root, exec root and containerd namespaces, so it never meets the default daemon.
/// The docker CLI reaches it through its socket.
/// </summary>
public sealed class PrivateDockerd(string name)
{
    public string Name { get; } = name;

    /// <summary>Holds the socket, pidfile and exec root.</summary>
    public string RunDirectory => $"/run/csvol-test/{Name}";

    public string Socket => RunDirectory + "/docker.sock";

    public string DataRoot => $"/var/lib/csvol-test/hosts/{Name}/docker";

    public string LogFile => $"/var/log/csvol-test/dockerd-{Name}.log";

    private string PidFile => RunDirectory + "/dockerd.pid";

    private Dictionary<string, string> Environment => new(StringComparer.Ordinal)
    {
        ["DOCKER_HOST"] = "unix://" + Socket,
        ["CSVOL_TEST_DOCKERD_NAME"] = Name,
    };

    /// <summary>dockerd's pid, from the pidfile dockerd writes itself.</summary>
    public int ProcessId => int.Parse(File.ReadAllText(PidFile).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Whether the pidfile names a live process (dockerd.sh stop removes the pidfile once dockerd is gone).</summary>
    public bool IsRunning =>
        File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile).Trim(), CultureInfo.InvariantCulture, out var pid) && Directory.Exists($"/proc/{pid}");

    /// <summary>The daemon's network namespace (<c>net:[inode]</c>), where its managed plugins with network "host" run.</summary>
    public string NetworkNamespace => new FileInfo($"/proc/{ProcessId}/ns/net").LinkTarget
        ?? throw new InvalidOperationException($"dockerd {Name} (pid {ProcessId}) has no network namespace link");

    public async Task StartAsync() => (await ScriptAsync("dockerd.sh", TimeSpan.FromMinutes(4), "start")).MustSucceed();

    /// <summary>Stops the daemon by the pid it wrote (dockerd.sh stop); a daemon that is not running is fine.</summary>
    public async Task<CommandResult> StopAsync() => await ScriptAsync("dockerd.sh", TimeSpan.FromMinutes(2), "stop");

    public Task<CommandResult> RunAsync(params string[] arguments) => RunAsync(Cli.DefaultTimeout, arguments);

    public Task<CommandResult> RunAsync(TimeSpan timeout, params string[] arguments) =>
        Cli.RunAsync("docker", arguments, Environment, timeout);

    public async Task<string> MustAsync(params string[] arguments) => (await RunAsync(arguments)).MustSucceed().StdOut.Trim();

    /// <summary>Runs a repository script against this daemon.</summary>
    public Task<CommandResult> ScriptAsync(string script, TimeSpan timeout, params string[] arguments) =>
        Cli.RunAsync("bash", [RepoPaths.Script(script), .. arguments], Environment, timeout, RepoPaths.Root);
}
