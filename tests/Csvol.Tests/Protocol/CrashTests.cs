using Csvol.Tests.Support;

namespace Csvol.Tests.Protocol;

/// <summary>
/// kill -9 of the real process in the middle of concurrent Mount/Unmount traffic, three times over. After
/// each restart every record must load, and each volume must be mounted exactly once if it holds IDs and
/// not at all if it holds none.
/// </summary>
public sealed class CrashTests : IDisposable
{
    private static readonly string[] Volumes = ["crash-a", "crash-b", "crash-c", "crash-d"];
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Kill9_DuringMountUnmountStorm_StateAndMountsAgreeAfterRestart()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        var socket = environment["CSVOL_SOCKET"];
        var random = new Random(20261125);

        using (var first = CsvolProcess.Start(environment))
        {
            using var client = await first.WaitUntilReadyAsync(socket);
            foreach (var name in Volumes)
            {
                (await client.CallAsync("/VolumeDriver.Create", new { Name = name })).AssertOk();
                await File.WriteAllTextAsync(Path.Combine(_dir.Sub("state", "data", name), "precious"), name);
            }

            first.Kill9();
        }

        for (var round = 0; round < 3; round++)
        {
            using var sut = CsvolProcess.Start(environment);
            using (var client = await sut.WaitUntilReadyAsync(socket))
            {
                await AssertConsistentAsync(client);
                using var stop = new CancellationTokenSource();
                var storm = Enumerable.Range(0, 6).Select(worker => StormAsync(client, new Random(random.Next()), stop.Token)).ToArray();
                await Task.Delay(random.Next(150, 600));
                sut.Kill9();
                await stop.CancelAsync();
                await Task.WhenAll(storm);
            }
        }

        using var last = CsvolProcess.Start(environment);
        using var final = await last.WaitUntilReadyAsync(socket);
        await AssertConsistentAsync(final);
        foreach (var name in Volumes)
        {
            Assert.Equal(name, await File.ReadAllTextAsync(Path.Combine(_dir.Sub("state", "data", name), "precious")));
        }
    }

    private async Task AssertConsistentAsync(PluginClient client)
    {
        var listed = (await client.PostAsync("/VolumeDriver.List")).AssertOk().Json.GetProperty("Volumes")
            .EnumerateArray().Select(v => v.GetProperty("Name").GetString()).Order().ToArray();
        Assert.Equal(Volumes, listed);
        foreach (var name in Volumes)
        {
            var mounts = int.Parse(
                (await client.CallAsync("/VolumeDriver.Get", new { Name = name })).AssertOk()
                    .Json.GetProperty("Volume").GetProperty("Status").GetProperty("mounts").GetString()!,
                System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(mounts > 0 ? 1 : 0, TempDir.MountCount(_dir.Sub("mnt", name)));
        }

        Assert.Empty(Directory.EnumerateFiles(_dir.Sub("state", "volumes"), "*.tmp"));
    }

    private static async Task StormAsync(PluginClient client, Random random, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var name = Volumes[random.Next(Volumes.Length)];
            var id = "id" + random.Next(4);
            var endpoint = random.Next(2) == 0 ? "/VolumeDriver.Mount" : "/VolumeDriver.Unmount";
            try
            {
                await client.CallAsync(endpoint, new { Name = name, ID = id });
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                return; // the process died under us, as intended
            }
        }
    }
}
