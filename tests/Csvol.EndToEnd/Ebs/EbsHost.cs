using System.Diagnostics;
using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.Imds;

namespace Csvol.EndToEnd.Ebs;

/// <summary>
/// One "EC2 instance" of the two-host rig: a private dockerd in its own network namespace with the managed plugin
/// <c>csvol/ebs</c> enabled, its own fake IMDS (its instance id), and bridges from its namespace's loopback to the
/// fakes on the host's.
/// </summary>
public sealed class EbsHost(string label, string instanceId, PrivateDockerd docker, string stateDirectory)
{
    public const string PluginName = "csvol/ebs";

    private readonly List<LoopbackBridge> _bridges = [];

    /// <summary>"A" or "B", for messages.</summary>
    public string Label { get; } = label;

    public string InstanceId { get; } = instanceId;

    public PrivateDockerd Docker { get; } = docker;

    /// <summary>The plugin's state directory on the host (its <c>state</c> mount).</summary>
    public string StateDirectory { get; } = stateDirectory;

    public FakeImdsServer? Imds { get; set; }

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
