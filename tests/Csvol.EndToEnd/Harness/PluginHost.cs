using System.Diagnostics;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// One "host" of a two-host rig (<see cref="TwoHostRig{THost}"/>): a private dockerd in its own network namespace with a
/// managed cloud plugin enabled, and bridges from its namespace's loopback to the fakes on the host's. A backend's host
/// adds what identifies it to the cloud (an instance id, a VM name) and its own metadata fake.
/// </summary>
public abstract class PluginHost(string label, string pluginName, PrivateDockerd docker, string stateDirectory)
{
    private readonly List<LoopbackBridge> _bridges = [];

    /// <summary>"A" or "B", for messages.</summary>
    public string Label { get; } = label;

    /// <summary>The managed plugin, e.g. <c>csvol/ebs</c>.</summary>
    public string Plugin { get; } = pluginName;

    public PrivateDockerd Docker { get; } = docker;

    /// <summary>The plugin's state directory on the host (its <c>state</c> mount).</summary>
    public string StateDirectory { get; } = stateDirectory;

    /// <summary>The fakes' loopback endpoints this host's plugin talks to: its metadata service, and the cloud API.</summary>
    public abstract IEnumerable<Uri> Endpoints { get; }

    /// <summary>Makes host loopback ports reachable from this dockerd's namespace (its plugin's network).</summary>
    public void Bridge(params Uri[] endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            _bridges.Add(LoopbackBridge.Open(Docker.ProcessId, endpoint.Port));
        }
    }

    public async Task CloseBridgesAsync()
    {
        foreach (var bridge in _bridges)
        {
            await bridge.DisposeAsync();
        }

        _bridges.Clear();
    }

    /// <summary><c>docker run --rm -v VOLUME:/d IMAGE sh -c SCRIPT</c> on this host.</summary>
    public Task<CommandResult> RunAsync(string volume, string script) =>
        Docker.RunAsync(["run", "--rm", "--label", Harness.Docker.Label, "-v", volume + ":/d", Harness.Docker.Image, "sh", "-c", script]);

    /// <summary>The csvol process of this host's plugin: the one running in this dockerd's network namespace.</summary>
    public int? PluginProcessId()
    {
        var netns = Docker.NetworkNamespace;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var exe = new FileInfo(dir + "/exe").LinkTarget;
                if (exe is not null && Path.GetFileName(exe).Split(' ')[0] == "csvol" && new FileInfo(dir + "/ns/net").LinkTarget == netns)
                {
                    return pid;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A process that ended while we looked.
            }
        }

        return null;
    }

    /// <summary>Waits until this host's plugin runs as a process other than <paramref name="not"/> and answers dockerd.</summary>
    public async Task<int> AwaitPluginAsync(int? not, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (PluginProcessId() is { } pid && pid != not && (await Docker.RunAsync("volume", "ls", "-q")).Succeeded)
            {
                return pid;
            }

            if (waited.Elapsed > timeout)
            {
                throw new TimeoutException($"host {Label}'s plugin was not running again within {timeout.TotalSeconds:0} s\n{await LogTailAsync()}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Waits until <c>docker volume ls</c> here lists <paramref name="name"/> (the plugin's discovery).</summary>
    public async Task AwaitListedAsync(string name, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var listed = (await Docker.RunAsync("volume", "ls", "-q", "--filter", "driver=" + Plugin + ":latest")).MustSucceed();
            if (listed.StdOut.Split('\n').Contains(name))
            {
                return;
            }

            if (waited.Elapsed > timeout)
            {
                Assert.Fail($"host {Label} did not list volume {name} within {timeout.TotalSeconds:0} s; it lists:\n{listed.StdOut}\n{await LogTailAsync()}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>The trimmed output of a command that must have succeeded; on failure, with this dockerd's log (the plugin's lines).</summary>
    public async Task<string> MustAsync(CommandResult result) =>
        result.Succeeded ? result.StdOut.Trim() : throw new CommandFailedException(result.Describe() + "\n" + await LogTailAsync());

    /// <summary>The end of this dockerd's log, which holds the plugin's output too: for failure messages.</summary>
    public async Task<string> LogTailAsync(int lines = 60)
    {
        if (!File.Exists(Docker.LogFile))
        {
            return $"(no log at {Docker.LogFile})";
        }

        var all = await File.ReadAllLinesAsync(Docker.LogFile);
        return $"--- last {lines} lines of {Docker.LogFile} (host {Label}) ---\n" + string.Join('\n', all.TakeLast(lines));
    }
}
