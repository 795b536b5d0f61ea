using System.Diagnostics;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// What the two-host tests of every cloud backend share: a random file written and read through containers, holding
/// containers and volumes this test made (removed again at its end), and bounded waits.
/// </summary>
/// <param name="rig">The two hosts.</param>
/// <param name="prefix">Names of this test's volumes and containers start with it.</param>
public abstract class TwoHostTests<THost>(TwoHostRig<THost> rig, string prefix)
    where THost : PluginHost
{
    /// <summary>Generous on purpose: this 2-core machine is shared and noisy. The steps take a few seconds.</summary>
    protected static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    protected const string WriteScript = "head -c 4194304 /dev/urandom > /d/payload && sync && sha256sum /d/payload | cut -d' ' -f1";
    protected const string ReadScript = "sha256sum /d/payload | cut -d' ' -f1";

    private readonly List<(THost Host, string Container)> _containers = [];
    private readonly List<string> _volumes = [];

    protected THost A => rig.A;

    protected THost B => rig.B;

    /// <summary>A new volume name, removed on both hosts when the test ends.</summary>
    protected string NewVolumeName()
    {
        var name = prefix + Guid.NewGuid().ToString("N")[..12];
        _volumes.Add(name);
        return name;
    }

    /// <summary>Removes this test's containers, then its volumes: on A, where each was created, then on B, so that B's dockerd forgets them too.</summary>
    protected async Task RemoveWhatThisTestMadeAsync()
    {
        foreach (var (host, container) in _containers)
        {
            _ = await host.Docker.RunAsync("rm", "-f", container);
        }

        foreach (var volume in _volumes)
        {
            _ = await A.Docker.RunAsync("volume", "rm", "-f", volume);
            _ = await B.Docker.RunAsync("volume", "rm", "-f", volume);
        }
    }

    /// <summary>A container on <paramref name="host"/> that holds <paramref name="volume"/> mounted (sleeping) until removed.</summary>
    protected async Task<string> HoldAsync(THost host, string volume)
    {
        var container = prefix + Guid.NewGuid().ToString("N")[..12];
        _containers.Add((host, container));
        var started = await host.Docker.RunAsync(
            "run", "-d", "--name", container, "--label", Docker.Label, "-v", volume + ":/d", Docker.Image, "sleep", "600");
        _ = await host.MustAsync(started);
        return container;
    }

    /// <summary>Repeats <c>docker run -d</c> of a holding container until one runs (a user repeating the run); returns its name.</summary>
    protected async Task<string> RepeatUntilHeldAsync(THost host, string volume)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await HoldAsync(host, volume);
            }
            catch (CommandFailedException) when (waited.Elapsed < Bound)
            {
                await Task.Delay(500);
            }
        }
    }

    /// <summary>
    /// Queues <paramref name="faults"/> on the fake, then creates a volume on A (<paramref name="createOnA"/>), writes it
    /// from a container, waits until it is detached (<paramref name="awaitDetached"/>) and reads it back: all within
    /// <see cref="Bound"/>, and every queued fault answered (the bursts were met, not skipped) with one more call after.
    /// </summary>
    /// <param name="faults">Each fake call, whether it is throttled (else it fails with a 5xx), and how many times.</param>
    /// <param name="queue">Queues one fault on the fake.</param>
    /// <param name="calls">How many requests of a call the fake has seen.</param>
    /// <param name="createOnA">Creates the volume on A and returns its name.</param>
    /// <param name="awaitDetached">Waits until the fake shows the volume detached.</param>
    protected async Task WriteAndReadThroughFaultsAsync(
        (string Call, bool Throttle, int Count)[] faults,
        Action<string, bool, int> queue,
        Func<string, int> calls,
        Func<Task<string>> createOnA,
        Func<string, Task> awaitDetached)
    {
        var callsBefore = faults.ToDictionary(f => f.Call, f => calls(f.Call));
        foreach (var (call, throttle, count) in faults)
        {
            queue(call, throttle, count);
        }

        var took = Stopwatch.StartNew();
        var name = await createOnA();
        var written = await A.MustAsync(await A.RunAsync(name, WriteScript));
        await awaitDetached(name);
        took.Stop();
        var read = await A.MustAsync(await A.RunAsync(name, ReadScript));

        Assert.Equal(written, read);
        Assert.True(took.Elapsed < Bound, $"create, write and detach through the fault bursts took {took.Elapsed.TotalSeconds:0.0} s");
        foreach (var (call, _, count) in faults)
        {
            Assert.True(calls(call) >= callsBefore[call] + count + 1,
                $"{call}: {calls(call) - callsBefore[call]} calls, expected at least {count + 1} ({count} faulted)");
        }
    }

    /// <summary>
    /// <c>docker run</c> of <paramref name="volume"/> on A with the fake's attach slowed (<paramref name="slow"/>); A's plugin
    /// is killed with SIGKILL once its attach reached the fake (<paramref name="attaches"/> grew), and dockerd must start it
    /// again. Returns the run's result and both pids.
    /// </summary>
    protected async Task<(CommandResult Run, int Killed, int Restarted)> RunKilledMidAttachAsync(
        string volume, Func<int> attaches, string what, Action slow, Action restore)
    {
        var before = attaches();
        var killed = A.PluginProcessId() ?? throw new InvalidOperationException("host A's plugin process not found\n" + await A.LogTailAsync());
        slow();
        var run = A.RunAsync(volume, ReadScript);
        await AwaitAsync(() => attaches() > before, what);
        (await Cli.RunAsync("kill", ["-KILL", killed.ToString(System.Globalization.CultureInfo.InvariantCulture)])).MustSucceed();
        var result = await run;
        var restarted = await A.AwaitPluginAsync(not: killed, Bound);
        restore();
        return (result, killed, restarted);
    }

    protected async Task AwaitNoLoopDevicesAsync()
    {
        var waited = Stopwatch.StartNew();
        IReadOnlyList<string> loops;
        while ((loops = await rig.LoopDevicesAsync()).Count > 0 && waited.Elapsed < Bound)
        {
            await Task.Delay(200);
        }

        Assert.True(loops.Count == 0, "loop devices still attached to the fake's files: " + string.Join(", ", loops));
    }

    protected static async Task AwaitAsync(Func<bool> condition, string what)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < Bound, $"{what} did not happen within {Bound.TotalSeconds:0} s");
            await Task.Delay(50);
        }
    }

    protected static async Task<CommandResult> RepeatUntilSucceededAsync(Func<Task<CommandResult>> run)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var result = await run();
            if (result.Succeeded || waited.Elapsed > Bound)
            {
                return result;
            }

            await Task.Delay(500);
        }
    }
}
