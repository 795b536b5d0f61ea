using System.Diagnostics;
using System.Globalization;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.Ec2;
using Csvol.FakeCloud.Imds;

namespace Csvol.EndToEnd.Ebs;

/// <summary>
/// Two EC2 "instances" in one zone for <c>csvol/ebs</c>: two private dockerds (<see cref="PrivateDockerd"/>, each in its
/// own network namespace) with the managed plugin built by scripts/build-plugin.sh, one shared fake EC2 whose
/// attachments are real loop devices, and a fake IMDS per instance. Everything it starts is stopped by pid and
/// everything it made is removed on dispose, also when start-up failed half-way.
/// </summary>
/// <remarks>
/// The fakes listen on the host's loopback; each plugin runs in its dockerd's namespace (network type "host"), so
/// <see cref="LoopbackBridge"/> carries their ports there. The fake's device root is under the host's /dev because the
/// plugin sees the host's /dev (its "dev" mount, rbind) and nothing else of the host: the by-id links point at
/// /dev/loopN, which must resolve inside the plugin too.
/// </remarks>
public sealed class EbsHostsFixture : IAsyncLifetime
{
    public const string Cluster = "e2e";
    public const string Zone = "us-east-1a";
    public const string Root = "/var/lib/csvol-test/ebs-e2e";
    public const string DeviceRoot = "/dev/csvol-e2e-ebs";

    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(10);
    private readonly List<FakeImdsServer> _imds = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private AmazonEC2Client? _ec2Client;
    private bool _tornDown;

    public EbsHostsFixture()
    {
        A = new EbsHost("A", "i-0aaaaaaaaaaaaaaa1", new PrivateDockerd("ebs-a"), Path.Combine(Root, "state-a"));
        B = new EbsHost("B", "i-0bbbbbbbbbbbbbbb2", new PrivateDockerd("ebs-b"), Path.Combine(Root, "state-b"));
    }

    public EbsHost A { get; }

    public EbsHost B { get; }

    public FakeEc2Server Ec2 { get; private set; } = null!;

    public string FakeDataDirectory => Path.Combine(Root, "fake-data");

    private IEnumerable<EbsHost> Hosts => [A, B];

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
        if (Ec2 is not null)
        {
            problems.AddRange(Ec2.BackgroundErrors.Select(e => "fake EC2 background error: " + e.Message));
            await Ec2.DisposeAsync();
        }

        foreach (var imds in _imds)
        {
            await imds.DisposeAsync();
        }

        _ec2Client?.Dispose();
        problems.AddRange(await RemoveLeftoversAsync());
        Step("torn down" + (problems.Count > 0 ? ", with problems:\n" + string.Join('\n', problems) : ""));
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("the EBS two-host rig was not torn down cleanly:\n" + string.Join('\n', problems));
        }
    }

    /// <summary>The volumes the fake EC2 holds for csvol volume <paramref name="name"/> (by csvol's tags), as the SDK sees them.</summary>
    public async Task<IReadOnlyList<Volume>> EbsVolumesNamedAsync(string name)
    {
        var answer = await Ec2Client.DescribeVolumesAsync(new DescribeVolumesRequest
        {
            Filters = [new Filter("tag:csvol/cluster", [Cluster]), new Filter("tag:csvol/name", [name])],
        });
        return answer.Volumes ?? [];
    }

    /// <summary>The one EBS volume of <paramref name="name"/>; fails if there is none or more than one.</summary>
    public async Task<Volume> EbsVolumeNamedAsync(string name) => Assert.Single(await EbsVolumesNamedAsync(name));

    /// <summary>Waits (bounded) until the fake says <paramref name="name"/>'s volume is attached nowhere; returns it.</summary>
    public async Task<Volume> AwaitDetachedAsync(string name, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var volume = await EbsVolumeNamedAsync(name);
            if ((volume.Attachments ?? []).Count == 0 && volume.State == VolumeState.Available)
            {
                return volume;
            }

            Assert.True(waited.Elapsed < timeout,
                $"EBS volume {volume.VolumeId} of \"{name}\" is still {volume.State} (attached to {string.Join(", ", (volume.Attachments ?? []).Select(a => $"{a.InstanceId} {a.State}"))}) after {timeout.TotalSeconds:0} s");
            await Task.Delay(200);
        }
    }

    /// <summary>Loop devices backed by the fake's data files (<c>losetup --list</c>): one per attached volume, none else.</summary>
    public async Task<IReadOnlyList<string>> LoopDevicesAsync() =>
        [.. (await Cli.RunAsync("losetup", ["--list", "--noheadings", "--output", "NAME,BACK-FILE"])).MustSucceed().StdOut
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(FakeDataDirectory + "/", StringComparison.Ordinal))];

    /// <summary>Each start-up and teardown step with the seconds since the first, in artifacts/test-results/ebs-two-hosts.log.</summary>
    private void Step(string what)
    {
        var log = Path.Combine(RepoPaths.Root, "artifacts", "test-results", "ebs-two-hosts.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        File.AppendAllText(log, string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:HH:mm:ss} {_clock.Elapsed.TotalSeconds,6:0.0} s  {what}\n"));
    }

    private AmazonEC2Client Ec2Client => _ec2Client ??= new AmazonEC2Client(
        new BasicAWSCredentials("AKIDFAKE", "fake-secret"),
        new AmazonEC2Config { ServiceURL = Ec2.BaseUri.ToString(), AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });

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
            // dockerd's record of the volumes it saw. After a killed run it names csvol/ebs volumes of a fake that is
            // gone, and a dockerd started with them looks for their plugin for 15 s each (seen: 45 s). The data root
            // itself stays, like the default test daemon's: its base image saves an import per run.
            Directory.Delete(volumes, recursive: true);
        }

        Step("leftovers of earlier runs removed");
        Directory.CreateDirectory(Root);
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");

        Ec2 = await FakeEc2Server.StartAsync(new FakeEc2Options
        {
            DataDirectory = FakeDataDirectory,
            DeviceRoot = DeviceRoot,
            DeleteDataOnDispose = true,
        });
        foreach (var host in Hosts)
        {
            Ec2.AddInstance(host.InstanceId, Zone);
            var imds = await FakeImdsServer.StartAsync(new FakeImdsOptions { InstanceId = host.InstanceId, AvailabilityZone = Zone });
            _imds.Add(imds);
            host.Imds = imds;
        }

        await Task.WhenAll(Hosts.Select(h => h.Docker.StartAsync()));
        Step("dockerds started");
        foreach (var host in Hosts)
        {
            host.Bridge(Ec2.BaseUri, host.Imds!.BaseUri);
        }

        // A builds csvol/ebs (publish + image + rootfs in plugin/ebs); B meanwhile imports the base image for its
        // containers, then creates the same plugin from plugin/ebs (as `docker plugin create` on a second machine would).
        var buildA = BuildOnAAsync();
        (await B.Docker.ScriptAsync("base-image.sh", ScriptTimeout)).MustSucceed();
        Step("B: base image");
        await buildA;
        Step("A: base image, csvol/ebs built");
        _ = await B.Docker.RunAsync("plugin", "rm", "-f", EbsHost.PluginName);
        _ = await B.Docker.MustAsync("plugin", "create", EbsHost.PluginName, Path.Combine(RepoPaths.Root, "plugin", "ebs"));

        Step("B: csvol/ebs created");
        await Task.WhenAll(Hosts.Select(EnableAsync));
        Step("both enabled");
    }

    private async Task BuildOnAAsync()
    {
        (await A.Docker.ScriptAsync("base-image.sh", ScriptTimeout)).MustSucceed();
        (await A.Docker.ScriptAsync("build-plugin.sh", ScriptTimeout, "ebs")).MustSucceed();
    }

    private async Task EnableAsync(EbsHost host)
    {
        Directory.CreateDirectory(host.StateDirectory);
        File.SetUnixFileMode(host.StateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _ = await host.Docker.MustAsync(
            "plugin", "set", EbsHost.PluginName,
            "state.source=" + host.StateDirectory,
            "CSVOL_LOG_LEVEL=information", // calls that change state and every failure; the tail goes into failure messages
            "CSVOL_DISCOVERY_INTERVAL=1",
            "CSVOL_CLUSTER=" + Cluster,
            "CSVOL_EBS_IMDS_URL=" + host.Imds!.BaseUri.ToString().TrimEnd('/'),
            "CSVOL_EBS_ENDPOINT_URL=" + Ec2.BaseUri.ToString().TrimEnd('/'),
            "CSVOL_EBS_DEVICE_ROOT=" + DeviceRoot,
            "CSVOL_EBS_SYSFS_ROOT=" + DeviceRoot + "/sys",
            "AWS_REGION=us-east-1",
            "AWS_ACCESS_KEY_ID=AKIDFAKE",
            "AWS_SECRET_ACCESS_KEY=fake-secret",
            "AWS_EC2_METADATA_DISABLED=true");
        // What `make install BACKEND=ebs` uses: attach + format + mount can outlive dockerd's default 30 s.
        var enabled = await host.Docker.RunAsync("plugin", "enable", "--timeout", "120", EbsHost.PluginName);
        if (!enabled.Succeeded)
        {
            throw new InvalidOperationException($"host {host.Label}: {enabled.Describe()}\n{await host.LogTailAsync()}");
        }
    }

    private static void Preflight()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("the EBS end-to-end tests run dockerd, losetup and mount: run them as root (make test)");
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
    private static async Task<List<string>> StopHostAsync(EbsHost host)
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

    private static async Task RemoveTestObjectsAsync(EbsHost host, List<string> problems)
    {

        var containers = await host.Docker.RunAsync("ps", "-aq", "--filter", "label=" + Docker.Label);
        foreach (var id in containers.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            _ = await host.Docker.RunAsync("rm", "-f", id);
        }

        var volumes = await host.Docker.RunAsync("volume", "ls", "-q", "--filter", "driver=" + EbsHost.PluginName + ":latest");
        foreach (var volume in volumes.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // Removed on A, a volume is gone from B's list a discovery later; B's own remove then finds nothing to do.
            var removed = await host.Docker.RunAsync("volume", "rm", "-f", volume);
            if (!removed.Succeeded && !removed.StdErr.Contains("no such volume", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"host {host.Label}: {removed.Describe()}");
            }
        }

        _ = await host.Docker.RunAsync("plugin", "disable", "-f", EbsHost.PluginName);
        _ = await host.Docker.RunAsync("plugin", "rm", "-f", EbsHost.PluginName);
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
        string[] roots = [Root, .. stopped.Select(h => h.Docker.DataRoot)];
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
