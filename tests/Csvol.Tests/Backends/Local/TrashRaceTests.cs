using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.Local;

/// <summary>
/// The defect as it was found, through the real process: while <c>VolumeDriver.Remove</c> empties the trash, a
/// user inside the volume swaps directories with symlinks to a directory outside it. Nothing outside may go.
/// </summary>
public sealed class TrashRaceTests : IDisposable
{
    private const int Rounds = 5;
    private const int Pairs = 16;
    private const int FilesPerVictim = 10;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Remove_DirectoriesSwappedWithSymlinksOutside_FilesOutsideSurviveAndTrashEmpty()
    {
        Root.Require();
        var environment = CsvolProcess.EnvironmentFor(_dir);
        var victims = Enumerable.Range(0, 4).Select(v => _dir.Sub("victims", $"v{v}")).ToArray();
        var victimFiles = victims.SelectMany(v => Enumerable.Range(0, FilesPerVictim).Select(f => Path.Combine(v, $"file{f}"))).ToArray();
        foreach (var victim in victims)
        {
            Directory.CreateDirectory(victim);
        }

        foreach (var file in victimFiles)
        {
            await File.WriteAllTextAsync(file, "must survive");
        }

        using var sut = CsvolProcess.Start(environment);
        using var client = await sut.WaitUntilReadyAsync(environment["CSVOL_SOCKET"]);
        var rounds = new List<string>();
        var swapsPerRound = new List<long>();
        var answers = new List<PluginResponse>();
        for (var round = 0; round < Rounds; round++)
        {
            var name = $"race-{round}";
            (await client.CallAsync("/VolumeDriver.Create", new { Name = name })).AssertOk();
            var data = _dir.Sub("state", "data", name);
            BuildPairs(data, victims);

            using (var swapper = new EntrySwapper(data, Enumerable.Range(0, Pairs).Select(i => ($"d{i}", $"l{i}"))))
            {
                answers.Add(await client.CallAsync("/VolumeDriver.Remove", new { Name = name }));
                swapsPerRound.Add(swapper.Swaps);
            }

            var gone = victimFiles.Count(f => !File.Exists(f));
            var trash = Directory.EnumerateFileSystemEntries(_dir.Sub("state", "trash")).Count();
            rounds.Add($"round {round + 1}: {swapsPerRound[^1]} swaps, {gone} of {victimFiles.Length} files outside deleted, {trash} entries in trash");
        }

        var summary = string.Join("; ", rounds);
        var deleted = victimFiles.Where(f => !File.Exists(f)).ToArray();
        Assert.True(deleted.Length == 0,
            $"deleting the trash followed a symlink out of the volume and deleted e.g. {string.Join(", ", deleted.Take(3))}. {summary}");
        Assert.All(answers, a => a.AssertOk());
        Assert.True(!Directory.EnumerateFileSystemEntries(_dir.Sub("state", "trash")).Any(), $"trash not emptied. {summary}. csvol said: {sut.Output}");
        Assert.Empty(Directory.EnumerateDirectories(_dir.Sub("state", "data"))); // only the data-root marker file stays
        Assert.True(swapsPerRound.TrueForAll(s => s > 0), $"the swapper never won a swap, so the race was not run. {summary}");
    }

    /// <summary>
    /// Pairs dN, a directory holding files named as the victim's are, and lN, a symlink to a victim directory: a
    /// deleter that unlinks dN/file by path unlinks the victim's file whenever dN is the symlink at that instant.
    /// </summary>
    private static void BuildPairs(string data, string[] victims)
    {
        for (var i = 0; i < Pairs; i++)
        {
            var directory = Path.Combine(data, $"d{i}");
            Directory.CreateDirectory(directory);
            for (var f = 0; f < FilesPerVictim; f++)
            {
                File.WriteAllText(Path.Combine(directory, $"file{f}"), "volume data");
            }

            Directory.CreateSymbolicLink(Path.Combine(data, $"l{i}"), victims[i % victims.Length]);
        }
    }
}
