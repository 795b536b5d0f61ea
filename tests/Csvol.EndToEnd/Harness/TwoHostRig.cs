using System.Diagnostics;
using System.Globalization;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// Two "hosts" for a managed cloud plugin: two private dockerds (<see cref="PrivateDockerd"/>, each in its own network
/// namespace) with the plugin built by scripts/build-plugin.sh, the backend's fakes in this process (one cloud API whose
/// attachments are real loop devices, a metadata service per host) and <see cref="LoopbackBridge"/>s carrying their
/// ports into each dockerd's namespace. Everything it starts is stopped by pid and everything it made is removed on
/// dispose, also when start-up failed half-way. A backend's rig says what its fakes are and how its plugin is set.
/// </summary>
/// <remarks>
/// The fakes listen on the host's loopback; each plugin runs in its dockerd's namespace (network type "host"). The
/// fake's device root is under the host's /dev because the plugin sees the host's /dev (its "dev" mount, rbind) and
/// nothing else of the host: the links the fake makes point at /dev/loopN, which must resolve inside the plugin too.
/// </remarks>
public abstract class TwoHostRig<THost> : IAsyncLifetime
    where THost : PluginHost
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(10);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _tornDown;

    protected TwoHostRig(string backend, THost a, THost b)
    {
        Backend = backend;
        A = a;
        B = b;
    }

    /// <summary>The backend the plugin is built for (scripts/build-plugin.sh BACKEND): <c>ebs</c>, <c>azuredisk</c>.</summary>
    public string Backend { get; }

    public THost A { get; }

    public THost B { get; }

    /// <summary>Where the rig keeps its files on the host (state directories, the fake's data): removed on dispose.</summary>
    public abstract string Root { get; }

    /// <summary>Under /dev: where the fake makes its links and fake sysfs, seen by the plugins. Removed on dispose.</summary>
    public abstract string DeviceRoot { get; }

    /// <summary>The fake's disk files: loop devices backed by them are the attachments.</summary>
    public string FakeDataDirectory => Path.Combine(Root, "fake-data");

    protected IEnumerable<THost> Hosts => [A, B];

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Idempotent: called by <see cref="InitializeAsync"/> when start-up fails, and by xUnit afterwards anyway.</summary>
    public async Task DisposeAsync()
    {
        if (_tornDown)
        {
            return;
        }

        _tornDown = true;
        Step("teardown");
        var problems = (await Task.WhenAll(Hosts.Select(StopHostAsync))).SelectMany(p => p).ToList();
        Step("dockerds stopped");
        problems.AddRange(await StopFakesAsync());
        problems.AddRange(await RemoveLeftoversAsync());
        Step("torn down" + (problems.Count > 0 ? ", with problems:\n" + string.Join('\n', problems) : ""));
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"the {Backend} two-host rig was not torn down cleanly:\n" + string.Join('\n', problems));
        }
    }

    /// <summary>Loop devices backed by the fake's data files (<c>losetup --list</c>): one per attached disk, none else.</summary>
    public async Task<IReadOnlyList<string>> LoopDevicesAsync() =>
        [.. (await Cli.RunAsync("losetup", ["--list", "--noheadings", "--output", "NAME,BACK-FILE"])).MustSucceed().StdOut
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(FakeDataDirectory + "/", StringComparison.Ordinal))];

    /// <summary>Starts the cloud fakes and each host's metadata fake, so that <see cref="PluginHost.Endpoints"/> answer.</summary>
    protected abstract Task StartFakesAsync();

    /// <summary>Stops the fakes (they release their loop devices); returns their background errors as problems.</summary>
    protected abstract Task<IEnumerable<string>> StopFakesAsync();

    /// <summary>The <c>docker plugin set</c> arguments for <paramref name="host"/>'s plugin, besides the state mount.</summary>
    protected abstract IEnumerable<string> PluginSettings(THost host);

    /// <summary>Each start-up and teardown step with the seconds since the first, in artifacts/test-results/BACKEND-two-hosts.log.</summary>
    public void Step(string what)
    {
        var log = Path.Combine(RepoPaths.Root, "artifacts", "test-results", Backend + "-two-hosts.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        File.AppendAllText(log, string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:HH:mm:ss} {_clock.Elapsed.TotalSeconds,6:0.0} s  {what}\n"));
    }

    private async Task StartAsync()
    {
        Step("start-up");
        Preflight();
        // What a killed run left: its dockerds (by their pidfiles), loop devices, mounts and directories.
        foreach (var host in Hosts)
        {
            _ = await host.Docker.StopAsync();
        }

        _ = await RemoveLeftoversAsync();
        foreach (var volumes in Hosts.Select(h => Path.Combine(h.Docker.DataRoot, "volumes")).Where(Directory.Exists))
        {
            // dockerd's record of the volumes it saw. After a killed run it names csvol volumes of a fake that is
            // gone, and a dockerd started with them looks for their plugin for 15 s each (seen: 45 s). The data root
            // itself stays, like the default test daemon's: its base image saves an import per run.
            Directory.Delete(volumes, recursive: true);
        }

        Step("leftovers of earlier runs removed");
        Directory.CreateDirectory(Root);
        await StartFakesAsync();
        await Task.WhenAll(Hosts.Select(h => h.Docker.StartAsync()));
        Step("dockerds started");
        foreach (var host in Hosts)
        {
            host.Bridge([.. host.Endpoints]);
        }

        // A builds the plugin (publish + image + rootfs in plugin/BACKEND); B meanwhile imports the base image for its
        // containers, then creates the same plugin from plugin/BACKEND (as `docker plugin create` on a second machine would).
        var buildA = BuildOnAAsync();
        (await B.Docker.ScriptAsync("base-image.sh", ScriptTimeout)).MustSucceed();
        Step("B: base image");
        await buildA;
        Step($"A: base image, {A.Plugin} built");
        _ = await B.Docker.RunAsync("plugin", "rm", "-f", B.Plugin);
        _ = await B.Docker.MustAsync("plugin", "create", B.Plugin, Path.Combine(RepoPaths.Root, "plugin", Backend));

        Step($"B: {B.Plugin} created");
        await Task.WhenAll(Hosts.Select(EnableAsync));
        Step("both enabled");
    }

    private async Task BuildOnAAsync()
    {
        (await A.Docker.ScriptAsync("base-image.sh", ScriptTimeout)).MustSucceed();
        (await A.Docker.ScriptAsync("build-plugin.sh", ScriptTimeout, Backend)).MustSucceed();
    }

    private async Task EnableAsync(THost host)
    {
        Directory.CreateDirectory(host.StateDirectory);
        File.SetUnixFileMode(host.StateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _ = await host.Docker.MustAsync(["plugin", "set", host.Plugin, "state.source=" + host.StateDirectory, .. PluginSettings(host)]);
        // What `make install` uses for the cloud backends: attach + format + mount can outlive dockerd's default 30 s.
        var enabled = await host.Docker.RunAsync("plugin", "enable", "--timeout", "120", host.Plugin);
        if (!enabled.Succeeded)
        {
            throw new InvalidOperationException($"host {host.Label}: {enabled.Describe()}\n{await host.LogTailAsync()}");
        }
    }

    private void Preflight()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException($"the {Backend} end-to-end tests run dockerd, losetup and mount: run them as root (make test)");
        }

        string[] tools = ["docker", "dockerd", "unshare", "losetup", "jq", "ip"];
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        var missing = tools.Where(t => !path.Any(d => File.Exists(Path.Combine(d, t)))).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"missing {string.Join(", ", missing)}: run scripts/deps.sh");
        }
    }

    /// <summary>One host's containers, volumes (so the fake's disks are detached and deleted) and plugin, then its dockerd.</summary>
    private static async Task<List<string>> StopHostAsync(THost host)
    {
        var problems = new List<string>();
        if (File.Exists(host.Docker.Socket) && (await host.Docker.RunAsync("version")).Succeeded)
        {
            await RemoveTestObjectsAsync(host, problems);
        }

        var stopped = await host.Docker.StopAsync();
        if (!stopped.Succeeded)
        {
            problems.Add($"host {host.Label}: {stopped.Describe()}");
        }

        await host.CloseBridgesAsync();
        return problems;
    }

    private static async Task RemoveTestObjectsAsync(THost host, List<string> problems)
    {
        var containers = await host.Docker.RunAsync("ps", "-aq", "--filter", "label=" + Docker.Label);
        foreach (var id in containers.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            _ = await host.Docker.RunAsync("rm", "-f", id);
        }

        var volumes = await host.Docker.RunAsync("volume", "ls", "-q", "--filter", "driver=" + host.Plugin + ":latest");
        foreach (var volume in volumes.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // Removed on A, a volume is gone from B's list a discovery later; B's own remove then finds nothing to do.
            var removed = await host.Docker.RunAsync("volume", "rm", "-f", volume);
            if (!removed.Succeeded && !removed.StdErr.Contains("no such volume", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"host {host.Label}: {removed.Describe()}");
            }
        }

        _ = await host.Docker.RunAsync("plugin", "disable", "-f", host.Plugin);
        _ = await host.Docker.RunAsync("plugin", "rm", "-f", host.Plugin);
    }

    /// <summary>Loop devices of the fake's files, mounts under the rig's directories, the directories: what may not stay.</summary>
    private async Task<List<string>> RemoveLeftoversAsync()
    {
        var problems = new List<string>();
        foreach (var loop in await LoopDevicesAsync())
        {
            problems.Add("loop device left attached: " + loop);
            _ = await Cli.RunAsync("losetup", ["--detach", loop.Split(' ')[0]]);
        }

        // A stopped dockerd leaves its default network namespace bind-mounted in its exec root (libnetwork's
        // netns/default), which keeps that namespace alive: expected, and released here. Anything else is a problem.
        var stopped = Hosts.Where(h => !h.Docker.IsRunning).ToList();
        string[] roots = [Root, DeviceRoot, .. stopped.Select(h => h.Docker.DataRoot)];
        string[] runDirectories = [.. stopped.Select(h => h.Docker.RunDirectory)];
        foreach (var mount in MountTable.Read().Where(m => roots.Concat(runDirectories).Any(r => m.MountPoint.StartsWith(r + "/", StringComparison.Ordinal)))
                     .OrderByDescending(m => m.MountPoint.Length))
        {
            if (!runDirectories.Any(r => mount.MountPoint == r + "/docker-exec/netns/default"))
            {
                problems.Add("mount left: " + mount.MountPoint);
            }

            _ = await Cli.RunAsync("umount", ["-l", mount.MountPoint]);
        }

        foreach (var dir in new[] { Root, DeviceRoot }.Concat(runDirectories))
        {
            if (Directory.Exists(dir) && !MountTable.Read().Any(m => m.MountPoint.StartsWith(dir + "/", StringComparison.Ordinal)))
            {
                Directory.Delete(dir, recursive: true);
            }
        }

        return problems;
    }
}
