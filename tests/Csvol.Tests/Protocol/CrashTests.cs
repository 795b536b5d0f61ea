using System.Diagnostics;
using System.Globalization;
using Csvol.Tests.Support;
using Xunit.Abstractions;

namespace Csvol.Tests.Protocol;

/// <summary>
/// kill -9 of the shipped binary in the middle of concurrent Create, Remove, Mount and Unmount calls, three times
/// over. Each worker owns its mount IDs and one volume it creates and removes, and makes one call at a time, so it
/// knows what every answer must be and, after the restart, what must have survived: only its one call in flight at
/// the kill may have gone either way.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 3;
    private const int WorkerCount = 6;
    private const int MinimumPerKind = 5; // successful calls of each kind before each kill
    private static readonly string[] Shared = ["crash-a", "crash-b", "crash-c"];
    private readonly TempDir _dir = new();

    private enum Kind
    {
        Create,
        Remove,
        Mount,
        Unmount,
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Kill9_DuringCreateRemoveMountUnmountStorm_StateMountsAndDataAgreeAfterRestart()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        var socket = environment["CSVOL_SOCKET"];
        var random = new Random(20261125);
        var workers = Enumerable.Range(0, WorkerCount).Select(w => new Worker(w, _dir, new Random(random.Next()))).ToArray();

        using (var setup = CsvolProcess.Start(environment))
        {
            using var client = await setup.WaitUntilReadyAsync(socket);
            foreach (var name in Shared)
            {
                (await client.CallAsync("/VolumeDriver.Create", new { Name = name })).AssertOk();
                await File.WriteAllTextAsync(Path.Combine(_dir.Sub("state", "data", name), "precious"), name);
            }

            setup.Kill9();
        }

        for (var round = 1; round <= Rounds; round++)
        {
            using var sut = CsvolProcess.Start(environment);
            using var client = await sut.WaitUntilReadyAsync(socket);
            await VerifyAfterRestartAsync(client, workers);

            var succeeded = new int[4];
            var conflictsBefore = workers.Sum(w => w.Conflicts);
            using var stop = new CancellationTokenSource();
            var storm = workers.Select(w => Task.Run(() => w.StormAsync(client, succeeded, stop.Token))).ToArray();
            var elapsed = Stopwatch.StartNew();
            while (Enumerable.Range(0, succeeded.Length).Any(k => Volatile.Read(ref succeeded[k]) < MinimumPerKind))
            {
                if (storm.FirstOrDefault(t => t.IsCompleted) is { } ended)
                {
                    await ended; // an unexpected answer: its assertion fails here
                    Assert.Fail("a worker stopped although csvol is running");
                }

                Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(10), $"round {round}: within 10 s only {Describe(succeeded)} succeeded");
                await Task.Delay(5);
            }

            await Task.Delay(random.Next(0, 40)); // land the kill at a different point of the traffic each round
            sut.Kill9();
            await stop.CancelAsync();
            await Task.WhenAll(storm);
            output.WriteLine($"round {round}: killed after {elapsed.ElapsedMilliseconds} ms of storm; before it {Describe(succeeded)} " +
                $"changed state, {workers.Sum(w => w.Conflicts) - conflictsBefore} were refused as predicted; {workers.Count(w => w.InFlight is not null)} calls in flight");
        }

        using var last = CsvolProcess.Start(environment);
        using var final = await last.WaitUntilReadyAsync(socket);
        await VerifyAfterRestartAsync(final, workers);
    }

    private async Task VerifyAfterRestartAsync(PluginClient client, Worker[] workers)
    {
        var listed = (await client.PostAsync("/VolumeDriver.List")).AssertOk().Json.GetProperty("Volumes")
            .EnumerateArray().Select(v => v.GetProperty("Name").GetString()!).ToHashSet();
        var expectedMounts = Shared.ToDictionary(n => n, _ => (Low: 0, High: 0));
        foreach (var worker in workers)
        {
            worker.Reconcile(listed.Contains(worker.Volume));
            if (worker.VolumeExists)
            {
                expectedMounts[worker.Volume] = (0, 0);
            }
        }

        Assert.Equal(Shared.Concat(workers.Where(w => w.VolumeExists).Select(w => w.Volume)).Order(), listed.Order());
        foreach (var worker in workers)
        {
            worker.AddExpectedMounts(expectedMounts);
        }

        foreach (var (name, (low, high)) in expectedMounts)
        {
            var mounts = await MountsAsync(client, name);
            Assert.True(mounts >= low && mounts <= high, $"volume {name} holds {mounts} mount IDs; expected {low} to {high}");
            Assert.Equal(mounts > 0 ? 1 : 0, TempDir.MountCount(_dir.Sub("mnt", name)));
        }

        foreach (var name in Shared)
        {
            Assert.Equal(name, await File.ReadAllTextAsync(Path.Combine(_dir.Sub("state", "data", name), "precious")));
            if (await MountsAsync(client, name) > 0)
            {
                Assert.Equal(name, await File.ReadAllTextAsync(Path.Combine(_dir.Sub("mnt", name), "precious")));
            }
        }

        // The call in flight may have held or released its ID: release it, and from here every count is exact.
        foreach (var worker in workers)
        {
            await worker.SettleAsync(client);
        }

        foreach (var (name, _) in expectedMounts)
        {
            Assert.Equal(workers.Sum(w => w.Held(name)), await MountsAsync(client, name));
        }

        Assert.Empty(Directory.EnumerateFiles(_dir.Sub("state", "volumes"), "*.tmp"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Sub("state", "trash")));
    }

    private static async Task<int> MountsAsync(PluginClient client, string name) =>
        int.Parse(
            (await client.CallAsync("/VolumeDriver.Get", new { Name = name })).AssertOk()
                .Json.GetProperty("Volume").GetProperty("Status").GetProperty("mounts").GetString()!,
            CultureInfo.InvariantCulture);

    private static string Describe(int[] succeeded) =>
        string.Join(", ", Enum.GetValues<Kind>().Select(k => $"{succeeded[(int)k]} {k}"));

    /// <summary>One client of the plugin with a model of its own volume and mount IDs: one call at a time.</summary>
    private sealed class Worker(int index, TempDir dir, Random random)
    {
        private readonly HashSet<(string Volume, string Id)> _held = [];
        private int _generation;
        private bool _orphanDataAllowed;

        public string Volume { get; } = $"churn-{index}";

        public bool VolumeExists { get; private set; }

        /// <summary>What was written into the volume after it was created; null for none.</summary>
        public string? Mark { get; private set; }

        /// <summary>The call sent and not answered when csvol died; it may or may not have taken effect.</summary>
        public (Kind Kind, string Volume, string? Id)? InFlight { get; private set; }

        /// <summary>Calls refused with the state conflict the model predicted ("in use", "not found").</summary>
        public int Conflicts { get; private set; }

        private string MarkPath => dir.Sub("state", "data", Volume, "mark");

        public int Held(string volume) => _held.Count(h => h.Volume == volume);

        public async Task StormAsync(PluginClient client, int[] succeeded, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var kind = (Kind)random.Next(4);
                var volume = kind is Kind.Create or Kind.Remove || random.Next(2) == 0 ? Volume : Shared[random.Next(Shared.Length)];
                var id = kind is Kind.Mount or Kind.Unmount ? $"w{index}-{random.Next(2)}" : null;
                var expectedErr = ExpectedErr(kind, volume);
                InFlight = (kind, volume, id);
                PluginResponse answer;
                try
                {
                    answer = await client.CallAsync("/VolumeDriver." + kind, new { Name = volume, ID = id });
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    return; // csvol died under us, as intended; InFlight stays
                }

                InFlight = null;
                if (expectedErr is null)
                {
                    answer.AssertOk();
                    if (await ApplyAsync(kind, volume, id))
                    {
                        Interlocked.Increment(ref succeeded[(int)kind]);
                    }
                }
                else
                {
                    Assert.True(answer.Status == 500 && answer.Err?.Contains(expectedErr, StringComparison.Ordinal) == true,
                        $"{kind} {volume} {id}: expected an Err containing '{expectedErr}', got {answer.Status}: {answer.Body}");
                    Conflicts++;
                }
            }
        }

        /// <summary>The state conflict the call must be refused with, or null when it must succeed.</summary>
        private string? ExpectedErr(Kind kind, string volume) => kind switch
        {
            Kind.Remove when Held(volume) > 0 => $"volume \"{volume}\" is in use",
            Kind.Mount when volume == Volume && !VolumeExists => $"volume \"{volume}\" not found",
            _ => null, // Create of an existing volume, Remove of a missing one, Unmount of an ID not held: all succeed
        };

        /// <returns>Whether the call changed anything: Create of an existing volume or Unmount of an ID not held does not.</returns>
        private async Task<bool> ApplyAsync(Kind kind, string volume, string? id)
        {
            switch (kind)
            {
                case Kind.Create when !VolumeExists:
                    VolumeExists = true;
                    _orphanDataAllowed = false; // adopted, if it was there
                    Mark = $"{Volume} generation {++_generation}";
                    await File.WriteAllTextAsync(MarkPath, Mark);
                    return true;
                case Kind.Remove when VolumeExists:
                    VolumeExists = false;
                    Mark = null;
                    return true;
                case Kind.Mount:
                    return _held.Add((volume, id!));
                case Kind.Unmount:
                    return _held.Remove((volume, id!));
                default:
                    return false;
            }
        }

        /// <summary>Checks this worker's volume against what csvol lists after a restart, and adopts the outcome of a create or remove in flight.</summary>
        public void Reconcile(bool listed)
        {
            var uncertain = InFlight?.Kind is Kind.Create or Kind.Remove;
            Assert.True(uncertain || listed == VolumeExists,
                $"{Volume}: the last answered call left it {(VolumeExists ? "existing" : "removed")}, but after the restart it is {(listed ? "listed" : "not listed")}");
            if (listed && !VolumeExists)
            {
                Mark = null; // created by the call in flight: empty
            }

            VolumeExists = listed;
            if (listed && Mark is not null)
            {
                Assert.Equal(Mark, File.ReadAllText(MarkPath));
            }

            // A create in flight may leave a data directory without a record, which csvol keeps until a Create adopts it.
            _orphanDataAllowed |= !listed && InFlight?.Kind == Kind.Create;
            Assert.True(listed || _orphanDataAllowed || !Directory.Exists(dir.Sub("state", "data", Volume)),
                $"{Volume} is not listed, yet its data directory is still there");
        }

        public void AddExpectedMounts(Dictionary<string, (int Low, int High)> expected)
        {
            foreach (var (volume, _) in _held)
            {
                var (low, high) = expected[volume];
                expected[volume] = (low + 1, high + 1);
            }

            if (InFlight is { Kind: Kind.Mount or Kind.Unmount, Volume: var target, Id: var id } && expected.TryGetValue(target, out var range))
            {
                var held = _held.Contains((target, id!));
                expected[target] = InFlight.Value.Kind == Kind.Mount
                    ? (range.Low, range.High + (held ? 0 : 1))
                    : (range.Low - (held ? 1 : 0), range.High);
            }
        }

        public async Task SettleAsync(PluginClient client)
        {
            if (InFlight is { Kind: Kind.Mount or Kind.Unmount, Volume: var volume, Id: var id })
            {
                (await client.CallAsync("/VolumeDriver.Unmount", new { Name = volume, ID = id })).AssertOk();
                _held.Remove((volume, id!));
            }

            InFlight = null;
        }
    }
}
