using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Csvol.FakeCloud.Arm;
using Csvol.FakeCloud.AzureImds;
using Csvol.FakeCloud.Ec2;
using Csvol.FakeCloud.Imds;
using Csvol.Linux;
using Csvol.Mounting;

namespace Csvol.Bench;

/// <summary>
/// <c>cloudmount</c>: a published cloud-disk binary (a child process with its own state, mount root and socket) against
/// the fakes of its cloud in this process, whose attachments are real loop devices: <c>--cloud ebs</c> (the default)
/// runs csvol/ebs against the fake EC2 and IMDS, <c>--cloud azure</c> csvol/azuredisk against the fake ARM (HTTPS,
/// the run's CA pinned) and Azure IMDS (the managed identity token). Per volume: Create, Mount (attach, blkid, wipefs,
/// mkfs.ext4, mount, tag), Unmount (unmount, detach), Mount again (attach, blkid, mount), Unmount, Remove. Each
/// Mount's wall time (request sent to answer read) is split three ways:
/// <list type="bullet">
/// <item>fake: the union of the intervals in which the fake cloud was serving one of the plugin's requests or a change
/// was on its way from the answer that started it to done: EC2's AttachVolume to "attached" (the configured attach
/// delay plus losetup), ARM's PUT/PATCH/DELETE to its operation finishing (the configured operation delay, plus
/// losetup for a VM update that attaches);</item>
/// <item>host tools (first Mount only): mkfs.ext4 of a fresh sparse loop device of the same size, timed by this
/// process on the same file system right after each volume, not inside the plugin; its median is subtracted;</item>
/// <item>plugin overhead: the rest (polling granularity, the SDK client, blkid/wipefs spawns, mount(2), state writes).</item>
/// </list>
/// </summary>
internal static class CloudMountCommand
{
    public static readonly string[] Options =
        ["cloud", "bin", "volumes", "warmup", "size", "attach-delay-ms", "detach-delay-ms", "create-delay-ms", "operation-delay-ms", "work", "env"];

    private const string InstanceId = "i-0be0c0000000000a1";
    private const string Zone = "us-east-1a";
    private const string VmName = "vm-bench";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private sealed record Settings(
        string Cloud, string Bin, int Volumes, int Warmup, int SizeGiB, int AttachDelayMs, int DetachDelayMs, int CreateDelayMs,
        int OperationDelayMs, string WorkParent, IReadOnlyDictionary<string, string> ExtraEnvironment);

    /// <summary>
    /// One Mount, split. AttachWindowMs: the first change's window (the attach); OtherWindowsMs: the later ones (Azure's
    /// tag PATCH); PollLagMs: from each change being done to the plugin's next request, summed.
    /// </summary>
    private sealed record MountSplit(double TotalMs, double FakeMs, double AttachWindowMs, double OtherWindowsMs, double PollLagMs, int Requests);

    /// <summary>What differs between the clouds once the fakes run: the plugin's environment and how the timing is read.</summary>
    private sealed record Cloud(
        IReadOnlyDictionary<string, string> Environment, FakeClock Clock, Func<string, bool> StartsChange, Func<IReadOnlyList<Exception>> BackgroundErrors);

    /// <summary>One volume's measured cycle and the host-tool sample taken right after it.</summary>
    private sealed record Cycle(MountSplit First, MountSplit Second, double FirstUnmountMs, double SecondUnmountMs, HostSample Tools);

    private sealed record HostSample(double BlkidMs, double WipefsMs, double MkfsMs, double MountUmountMs);

    public static async Task RunAsync(CommandLine options)
    {
        var cloud = options.Optional("cloud") ?? "ebs";
        var backend = cloud switch
        {
            "ebs" => "ebs",
            "azure" => "azuredisk",
            _ => throw new UsageException($"--cloud takes ebs or azure, not \"{cloud}\""),
        };
        var bin = options.Optional("bin") ?? Environment.GetEnvironmentVariable("CSVOL_BIN")
            ?? throw new UsageException($"cloudmount needs --bin PATH (or CSVOL_BIN): the binary scripts/publish.sh {backend} makes");
        bin = Path.GetFullPath(bin);
        if (!File.Exists(bin))
        {
            throw new UsageException($"{bin} does not exist; run scripts/publish.sh {backend}");
        }

        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var assignment in options.All("env"))
        {
            var equals = assignment.IndexOf('=', StringComparison.Ordinal);
            environment[equals > 0 ? assignment[..equals] : throw new UsageException($"--env takes NAME=VALUE, not \"{assignment}\"")] =
                assignment[(equals + 1)..];
        }

        var settings = new Settings(
            cloud, bin, options.Int("volumes", 10, 1), options.Int("warmup", 1, 0), options.Int("size", 1, 1),
            options.Int("attach-delay-ms", 500, 0), options.Int("detach-delay-ms", 500, 0), options.Int("create-delay-ms", 200, 0),
            options.Int("operation-delay-ms", 500, 0), Path.GetFullPath(options.Optional("work") ?? "/var/tmp"), environment);
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("cloudmount needs root: loop devices, mkfs.ext4 and mount");
        }

        using var stop = new CancellationTokenSource();
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var dir = Path.Combine(settings.WorkParent, $"csvol-cloudmount-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            await RunInAsync(settings, dir, stop.Token);
        }
        finally
        {
            CleanUp(dir);
        }

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // let the finally blocks release loop devices and mounts
            stop.Cancel();
        }
    }

    private static Task RunInAsync(Settings settings, string dir, CancellationToken cancellationToken) =>
        settings.Cloud == "azure" ? RunAzureAsync(settings, dir, cancellationToken) : RunEbsAsync(settings, dir, cancellationToken);

    private static async Task RunEbsAsync(Settings settings, string dir, CancellationToken cancellationToken)
    {
        var clock = new FakeClock();
        var devices = Path.Combine(dir, "dev");
        await using var ec2 = await FakeEc2Server.StartAsync(new FakeEc2Options
        {
            DataDirectory = Path.Combine(dir, "data"),
            DeviceRoot = devices,
            DeleteDataOnDispose = true,
            CreateDelay = TimeSpan.FromMilliseconds(settings.CreateDelayMs),
            AttachDelay = TimeSpan.FromMilliseconds(settings.AttachDelayMs),
            DetachDelay = TimeSpan.FromMilliseconds(settings.DetachDelayMs),
        });
        ec2.Served = clock.OnServed;
        ec2.AttachCompleted = (_, at) => clock.OnCompleted(at); // one Mount at a time: the volume is known
        ec2.AddInstance(InstanceId, Zone);
        await using var imds = await FakeImdsServer.StartAsync(new FakeImdsOptions { InstanceId = InstanceId, AvailabilityZone = Zone });

        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CSVOL_BACKEND"] = "ebs",
            ["CSVOL_EBS_IMDS_URL"] = imds.BaseUri.ToString(),
            ["CSVOL_EBS_ENDPOINT_URL"] = ec2.BaseUri.ToString(),
            ["CSVOL_EBS_DEVICE_ROOT"] = devices,
            ["CSVOL_EBS_SYSFS_ROOT"] = Path.Combine(devices, "sys"),
            ["AWS_REGION"] = "us-east-1",
            ["AWS_ACCESS_KEY_ID"] = "AKIDBENCH",
            ["AWS_SECRET_ACCESS_KEY"] = "bench-secret",
            ["AWS_EC2_METADATA_DISABLED"] = "true",
        };
        await RunPluginAsync(settings, dir, new Cloud(environment, clock, action => action == "AttachVolume", () => ec2.BackgroundErrors), cancellationToken);
    }

    private static async Task RunAzureAsync(Settings settings, string dir, CancellationToken cancellationToken)
    {
        var clock = new FakeClock();
        await using var arm = await FakeArmServer.StartAsync(new FakeArmOptions
        {
            DataDirectory = Path.Combine(dir, "data"),
            DeviceRoot = Path.Combine(dir, "dev"),
            DeleteDataOnDispose = true,
            OperationDelay = TimeSpan.FromMilliseconds(settings.OperationDelayMs),
        });
        await using var imds = await FakeAzureImdsServer.StartAsync(new FakeAzureImdsOptions { SubscriptionId = arm.SubscriptionId, Name = VmName, Zone = "1" });
        _ = arm.AddVirtualMachine(imds.Options.ResourceGroupName, VmName, "1");
        arm.RequiredToken = imds.Options.AccessToken; // the plugin's token must come from the fake IMDS (managed identity)
        arm.Served = clock.OnServed;
        arm.OperationCompleted = (_, at) => clock.OnCompleted(at); // one change at a time: they pair in order
        var ca = Path.Combine(dir, "arm-ca.pem");
        await File.WriteAllTextAsync(ca, arm.CertificateAuthorityPem, cancellationToken);
        var deviceRoot = arm.DeviceRootOf(imds.Options.ResourceGroupName, VmName)!;

        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CSVOL_BACKEND"] = "azuredisk",
            ["CSVOL_AZURE_IMDS_URL"] = imds.BaseUri.ToString(),
            ["CSVOL_AZURE_ARM_URL"] = arm.BaseUri.ToString(),
            ["CSVOL_AZURE_ARM_CA_FILE"] = ca,
            ["CSVOL_AZURE_DEVICE_ROOT"] = deviceRoot,
            ["CSVOL_AZURE_SYSFS_ROOT"] = Path.Combine(deviceRoot, "sys"),
            ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = imds.BaseUri.ToString().TrimEnd('/'),
        };
        // PUT, PATCH and DELETE start an operation (the VM's attach or detach, a disk's create, tag or delete).
        await RunPluginAsync(
            settings, dir,
            new Cloud(environment, clock, call => call.StartsWith("PUT ", StringComparison.Ordinal) || call.StartsWith("PATCH ", StringComparison.Ordinal)
                || call.StartsWith("DELETE ", StringComparison.Ordinal), () => arm.BackgroundErrors),
            cancellationToken);
    }

    private static async Task RunPluginAsync(Settings settings, string dir, Cloud cloud, CancellationToken cancellationToken)
    {
        var log = Path.Combine(dir, "csvol.log");
        var sock = Path.Combine(dir, "csvol.sock");
        var mountRoot = Path.Combine(dir, "mnt");
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CSVOL_SOCKET"] = sock,
            ["CSVOL_STATE_DIR"] = Path.Combine(dir, "state"),
            ["CSVOL_MOUNT_ROOT"] = mountRoot,
            ["CSVOL_LOG_LEVEL"] = "warning",
            // Discovery lists the volumes by tag in the background; one landing inside a Mount would count as the
            // fake's time, so it runs only at start-up here.
            ["CSVOL_DISCOVERY_INTERVAL"] = "86400",
            ["CSVOL_CLUSTER"] = "bench",
        };
        foreach (var (name, value) in cloud.Environment)
        {
            environment[name] = value;
        }

        foreach (var (name, value) in settings.ExtraEnvironment)
        {
            environment[name] = value;
        }

        var child = ChildProcess.Start([settings.Bin], environment, log);
        try
        {
            // The plugin's calls block for seconds; on a thread of their own they take none from the pool that
            // serves the fakes (a starved pool would show up as the fake's time).
            var cycles = await Task.Factory.StartNew(
                () => Measure(settings, dir, sock, child, cloud, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (cloud.BackgroundErrors() is { Count: > 0 } errors)
            {
                throw new InvalidOperationException("the fake cloud failed in the background: " + errors[0].Message);
            }

            Report(settings, cycles);
        }
        catch
        {
            await Console.Error.WriteLineAsync($"cloudmount: the plugin's log ({log}), last lines:\n{Tail(log, 30)}");
            throw;
        }
        finally
        {
            child.Stop();
            UnmountUnder(mountRoot);
        }
    }

    private static List<Cycle> Measure(Settings settings, string dir, string sock, ChildProcess child, Cloud cloud, CancellationToken cancellationToken)
    {
        WaitReady(sock, child);
        using var plugin = new PluginConnection(sock, CallTimeout);
        var samples = Path.Combine(dir, "samples");
        Directory.CreateDirectory(samples);
        var cycles = new List<Cycle>();
        for (var i = -settings.Warmup; i < settings.Volumes; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = i < 0 ? $"warm{-i}" : $"cm{i}";
            var volume = $$"""{"Name":"{{name}}","ID":"bench-{{name}}"}""";
            Call(plugin, "/VolumeDriver.Create", $$$"""{"Name":"{{{name}}}","Opts":{"size":"{{{settings.SizeGiB}}}","fsType":"ext4"}}""");
            var first = TimedMount(plugin, volume, cloud);
            var firstUnmount = Timed(() => Call(plugin, "/VolumeDriver.Unmount", volume));
            cancellationToken.ThrowIfCancellationRequested();
            var second = TimedMount(plugin, volume, cloud);
            var secondUnmount = Timed(() => Call(plugin, "/VolumeDriver.Unmount", volume));
            Call(plugin, "/VolumeDriver.Remove", $$"""{"Name":"{{name}}"}""");
            var tools = HostTools(samples, settings.SizeGiB);
            if (i >= 0)
            {
                cycles.Add(new Cycle(first, second, firstUnmount, secondUnmount, tools));
            }
        }

        return cycles;
    }

    private static MountSplit TimedMount(PluginConnection plugin, string volume, Cloud cloud)
    {
        cloud.Clock.Clear();
        var t0 = Stopwatch.GetTimestamp();
        Call(plugin, "/VolumeDriver.Mount", volume);
        var t1 = Stopwatch.GetTimestamp();
        // The fake reports a request after writing its answer, which the plugin may act on first: give the last
        // report time to arrive (each carries its own timestamps, so the wait itself is not counted).
        Thread.Sleep(50);
        var (served, completed) = cloud.Clock.Take();

        var inside = served.Where(s => s.End > t0 && s.Start < t1).ToList();
        // CSVOL_BENCH_TRACE=1: each Mount's requests and completions (ms from the Mount request) to stderr, to see the polls.
        if (Environment.GetEnvironmentVariable("CSVOL_BENCH_TRACE") == "1")
        {
            Console.Error.WriteLine($"Mount {Ms(t1 - t0)} ms: " + string.Join(", ", served.Select(s => $"{s.Action} {Ms(s.Start - t0)}-{Ms(s.End - t0)}")
                .Concat(completed.Select(c => $"done {Ms(c - t0)}"))));
        }

        var intervals = inside.Select(s => (Math.Max(s.Start, t0), Math.Min(s.End, t1))).ToList();
        // Each change (one at a time within a Mount) runs from the answer that started it to the first completion
        // reported after that answer.
        var pending = completed.Order().ToList();
        double attachWindow = 0, otherWindows = 0, pollLag = 0;
        var windows = 0;
        foreach (var starter in inside.Where(s => cloud.StartsChange(s.Action)).OrderBy(s => s.End))
        {
            var index = pending.FindIndex(at => at > starter.End);
            if (index < 0)
            {
                continue;
            }

            var at = pending[index];
            pending.RemoveRange(0, index + 1);
            intervals.Add((Math.Max(starter.End, t0), Math.Min(at, t1)));
            var window = Ms(at - starter.End);
            if (windows++ == 0)
            {
                attachWindow = window;
            }
            else
            {
                otherWindows += window;
            }

            // How long the plugin took to look again once the change was done (its poll granularity).
            var nextLook = served.Where(s => s.Start >= at).Select(s => (long?)s.Start).Min();
            pollLag += nextLook is { } look ? Ms(look - at) : 0;
        }

        return new MountSplit(Ms(t1 - t0), Ms(UnionLength(intervals)), attachWindow, otherWindows, pollLag, inside.Count);
    }

    private static long UnionLength(List<(long Start, long End)> intervals)
    {
        long total = 0, coveredTo = long.MinValue;
        foreach (var (start, end) in intervals.OrderBy(i => i.Start))
        {
            var from = Math.Max(start, coveredTo);
            if (end > from)
            {
                total += end - from;
                coveredTo = end;
            }
        }

        return total;
    }

    /// <summary>
    /// What the plugin's first Mount runs on the host, done here on a fresh sparse file of the same size on the same
    /// file system, with the plugin's own arguments (EbsDevices): blkid, wipefs, mkfs.ext4, then mount and umount.
    /// </summary>
    private static HostSample HostTools(string samples, int sizeGiB)
    {
        var file = Path.Combine(samples, "sample.img");
        using (var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
        {
            stream.SetLength((long)sizeGiB << 30);
        }

        var loop = Tool("losetup", "--find", "--show", file).Trim();
        var target = Path.Combine(samples, "mnt");
        Directory.CreateDirectory(target);
        try
        {
            var blkid = Timed(() => Tool("blkid", "-p", "-o", "value", "-s", "TYPE", loop));
            var wipefs = Timed(() => Tool("wipefs", "--no-act", "--noheadings", "--output", "TYPE,OFFSET", loop));
            var mkfs = Timed(() => Tool("mkfs.ext4", "-q", "-F", loop));
            var mount = Timed(() =>
            {
                Libc.Mount(loop, target, "ext4", MountFlags.None, null);
                if (Libc.TryUnmount(target, UnmountFlags.None) is var errno and not 0)
                {
                    throw new IOException($"umount {target}: errno {errno}");
                }
            });
            return new HostSample(blkid, wipefs, mkfs, mount);
        }
        finally
        {
            _ = Libc.TryUnmount(target, UnmountFlags.Detach);
            _ = Tool("losetup", "--detach", loop);
            File.Delete(file);
        }
    }

    private static void Report(Settings settings, List<Cycle> cycles)
    {
        var mkfs = cycles.Select(c => c.Tools.MkfsMs).ToArray();
        var mkfsMedian = Median(mkfs);
        JsonLine.Write(json =>
        {
            json.WriteString("mode", "cloudmount");
            json.WriteString("cloud", settings.Cloud);
            json.WriteString("bin", settings.Bin);
            json.WriteNumber("volumes", settings.Volumes);
            json.WriteNumber("warmup", settings.Warmup);
            json.WriteNumber("size_gib", settings.SizeGiB);
            if (settings.Cloud == "azure")
            {
                json.WriteNumber("operation_delay_ms", settings.OperationDelayMs);
            }
            else
            {
                json.WriteNumber("attach_delay_ms", settings.AttachDelayMs);
                json.WriteNumber("detach_delay_ms", settings.DetachDelayMs);
                json.WriteNumber("create_delay_ms", settings.CreateDelayMs);
            }

            json.WriteString("overhead", "first Mount: total - fake - median mkfs.ext4 (timed separately); re-Mount: total - fake");
            json.WriteStartObject("first_mount");
            WriteSplits(json, [.. cycles.Select(c => c.First)], mkfsMedian);
            Percentiles(json, "host_tools_ms", mkfs);
            json.WriteEndObject();
            json.WriteStartObject("second_mount");
            WriteSplits(json, [.. cycles.Select(c => c.Second)], 0);
            json.WriteEndObject();
            Percentiles(json, "unmount_ms", [.. cycles.SelectMany(c => new[] { c.FirstUnmountMs, c.SecondUnmountMs })]);
            json.WriteStartObject("host_tools");
            json.WriteNumber("runs", cycles.Count);
            Percentiles(json, "mkfs_ext4_ms", mkfs);
            Percentiles(json, "blkid_ms", [.. cycles.Select(c => c.Tools.BlkidMs)]);
            Percentiles(json, "wipefs_ms", [.. cycles.Select(c => c.Tools.WipefsMs)]);
            Percentiles(json, "mount_umount_ms", [.. cycles.Select(c => c.Tools.MountUmountMs)]);
            json.WriteEndObject();
            json.WriteStartArray("runs");
            foreach (var cycle in cycles)
            {
                json.WriteStartObject();
                json.WriteNumber("first_total_ms", cycle.First.TotalMs);
                json.WriteNumber("first_fake_ms", cycle.First.FakeMs);
                json.WriteNumber("second_total_ms", cycle.Second.TotalMs);
                json.WriteNumber("second_fake_ms", cycle.Second.FakeMs);
                json.WriteNumber("mkfs_ms", cycle.Tools.MkfsMs);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static void WriteSplits(Utf8JsonWriter json, MountSplit[] splits, double hostToolsMs)
    {
        Percentiles(json, "total_ms", [.. splits.Select(s => s.TotalMs)]);
        Percentiles(json, "fake_ms", [.. splits.Select(s => s.FakeMs)]);
        Percentiles(json, "overhead_ms", [.. splits.Select(s => s.TotalMs - s.FakeMs - hostToolsMs)]);
        Percentiles(json, "attach_window_ms", [.. splits.Select(s => s.AttachWindowMs)]);
        Percentiles(json, "other_windows_ms", [.. splits.Select(s => s.OtherWindowsMs)]);
        Percentiles(json, "poll_lag_ms", [.. splits.Select(s => s.PollLagMs)]);
        // The overhead less the waits between a change being done and the plugin's next look: its own work on the host and in the SDK.
        Percentiles(json, "overhead_less_poll_lag_ms", [.. splits.Select(s => s.TotalMs - s.FakeMs - hostToolsMs - s.PollLagMs)]);
        Percentiles(json, "requests", [.. splits.Select(s => (double)s.Requests)]);
    }

    /// <summary>p50 and p90 (nearest rank, as load reports them) of <paramref name="values"/>.</summary>
    private static void Percentiles(Utf8JsonWriter json, string name, double[] values)
    {
        var sorted = values.Order().ToArray();
        double Rank(double percent) =>
            sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

        json.WriteStartObject(name);
        json.WriteNumber("p50", JsonLine.Round(Rank(50), 1));
        json.WriteNumber("p90", JsonLine.Round(Rank(90), 1));
        json.WriteEndObject();
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>Waits until the plugin answers Activate, or fails with why it did not.</summary>
    private static void WaitReady(string sock, ChildProcess child)
    {
        var activate = new PluginRequest("/Plugin.Activate", "{}");
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (child.HasExited())
            {
                throw new InvalidOperationException($"the plugin exited before answering: {child.ExitReason}");
            }

            if (Path.Exists(sock))
            {
                try
                {
                    using var connection = new PluginConnection(sock, TimeSpan.FromSeconds(2));
                    connection.Connect();
                    if (connection.Send(activate.For(0, [])) == 200)
                    {
                        return;
                    }
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                {
                    // not listening yet
                }
            }

            if (Stopwatch.GetElapsedTime(started) > StartTimeout)
            {
                throw new TimeoutException($"the plugin did not answer on {sock} within {StartTimeout.TotalSeconds} s");
            }

            Thread.Sleep(10);
        }
    }

    /// <summary>One plugin call that must succeed: a 200 with no Err.</summary>
    private static void Call(PluginConnection plugin, string endpoint, string body)
    {
        var status = plugin.Send(new PluginRequest(endpoint, body).For(0, []));
        var err = PluginConnection.ErrOf(plugin.Body);
        if (status != 200 || !err.IsEmpty)
        {
            throw new InvalidOperationException(
                $"{endpoint} {body}: HTTP {status}, {Encoding.UTF8.GetString(err.IsEmpty ? plugin.Body : err)}");
        }
    }

    private static double Timed(Action action)
    {
        var started = Stopwatch.GetTimestamp();
        action();
        return Ms(Stopwatch.GetTimestamp() - started);
    }

    /// <summary>Runs a host tool as the plugin does (System.Diagnostics.Process, output read); its stdout. Exit 0, or 2 for blkid's "nothing found".</summary>
    private static string Tool(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 || (program == "blkid" && process.ExitCode == 2)
            ? output
            : throw new InvalidOperationException($"{program} {string.Join(' ', arguments)}: exit {process.ExitCode}: {error.Result.Trim()}");
    }

    private static double Ms(long ticks) => JsonLine.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);

    private static string Tail(string file, int lines) =>
        File.Exists(file) ? string.Join('\n', File.ReadLines(file).TakeLast(lines)) : "(none)";

    private static void UnmountUnder(string root)
    {
        var mounts = File.ReadLines("/proc/self/mountinfo").Select(MountTable.ParseMountpoint).OfType<string>()
            .Where(m => m == root || m.StartsWith(root + "/", StringComparison.Ordinal)).OrderByDescending(m => m.Length).ToList();
        foreach (var mountpoint in mounts)
        {
            _ = Libc.TryUnmount(mountpoint, UnmountFlags.Detach);
        }
    }

    /// <summary>After the fakes have released their loop devices: anything left under <paramref name="dir"/> goes, loudly.</summary>
    private static void CleanUp(string dir)
    {
        UnmountUnder(dir);
        var leftovers = new List<string>();
        try
        {
            foreach (var line in Tool("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var fields = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (fields.Length == 2 && fields[1].StartsWith(dir + "/", StringComparison.Ordinal))
                {
                    leftovers.Add(fields[0]);
                    _ = Tool("losetup", "--detach", fields[0]);
                }
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"cloudmount: could not check for loop devices left behind: {ex.Message}");
        }

        if (leftovers.Count > 0)
        {
            Console.Error.WriteLine($"cloudmount: released loop devices left behind: {string.Join(", ", leftovers)}");
        }

        Directory.Delete(dir, recursive: true);
    }

    /// <summary>What the fake cloud reported since the last <see cref="Clear"/>; filled on Kestrel's threads and the fake's background tasks.</summary>
    private sealed class FakeClock
    {
        private readonly Lock _lock = new();
        private List<(string Action, long Start, long End)> _served = [];
        private List<long> _completed = [];

        public void OnServed(string action, long start, long end)
        {
            lock (_lock)
            {
                _served.Add((action, start, end));
            }
        }

        public void OnCompleted(long at)
        {
            lock (_lock)
            {
                _completed.Add(at);
            }
        }

        public void Clear() => _ = Take();

        public (List<(string Action, long Start, long End)> Served, List<long> Completed) Take()
        {
            lock (_lock)
            {
                var taken = (_served, _completed);
                (_served, _completed) = ([], []);
                return taken;
            }
        }
    }
}
