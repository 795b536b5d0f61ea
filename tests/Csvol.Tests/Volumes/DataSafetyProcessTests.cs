using System.Diagnostics;
using System.Text.Json.Nodes;
using Csvol.Tests.Support;

namespace Csvol.Tests.Volumes;

/// <summary>
/// Data-safety defects found in review, each reproduced the way it was found: the real csvol process on a temporary
/// state directory, driven over its socket, with the file system arranged to fail.
/// </summary>
public sealed class DataSafetyProcessTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Dictionary<string, string> _environment;
    private readonly List<Process> _holders = [];

    public DataSafetyProcessTests()
    {
        Root.Require();
        _environment = CsvolProcess.EnvironmentFor(_dir);
        _environment["CSVOL_REPAIR_INTERVAL"] = "1";
    }

    private string Socket => _environment["CSVOL_SOCKET"];

    private string State(params string[] parts) => _dir.Sub(["state", .. parts]);

    private string Mountpoint(string name) => _dir.Sub("mnt", name);

    public void Dispose()
    {
        foreach (var holder in _holders)
        {
            Release(holder);
        }

        foreach (var file in Directory.Exists(State("volumes")) ? Directory.EnumerateFiles(State("volumes")) : [])
        {
            Run("chattr", ["-i", file], mustSucceed: false);
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task Create_RecordCannotBeWritten_AdoptedDirectoryAndItsDataKept()
    {
        Directory.CreateDirectory(State("data", "keep"));
        await File.WriteAllTextAsync(State("data", "keep", "precious"), "left by an earlier life");
        Directory.CreateDirectory(State("volumes", "keep.json")); // the record's rename onto it fails, as on a full disk
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);

        var create = await client.CallAsync("/VolumeDriver.Create", new { Name = "keep" });

        Assert.NotNull(create.Err);
        Assert.Equal("left by an earlier life", await File.ReadAllTextAsync(State("data", "keep", "precious")));
    }

    [Fact]
    public async Task Get_AnotherRecordParsesButIsInvalid_HealthyVolumeAnswersAndBadOneSetAside()
    {
        await CreateAndStopAsync("healthy");
        await File.WriteAllTextAsync(State("volumes", "broken.json"),
            """{"Version":1,"Name":"broken","Provider":"local","Options":{"type":"dir"},"CreatedAt":"2026-11-25T09:00:00Z","MountIds":null}""");
        await File.WriteAllTextAsync(State("volumes", "empty.json"),
            """{"Version":1,"Name":"empty","Provider":"local","Options":null,"CreatedAt":"2026-11-25T09:00:00Z","MountIds":[]}""");
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);

        var get = await client.CallAsync("/VolumeDriver.Get", new { Name = "healthy" });
        var list = await client.PostAsync("/VolumeDriver.List");

        get.AssertOk();
        Assert.Equal(["healthy"], Names(list));
        Assert.Single(Directory.EnumerateFiles(State("volumes"), "broken.json.corrupt-*"));
        Assert.Single(Directory.EnumerateFiles(State("volumes"), "empty.json.corrupt-*"));
    }

    [Fact]
    public async Task Start_LeftoverMountHeldBusy_OtherCallsServedAndMountReleasedOnceFree()
    {
        Directory.CreateDirectory(Mountpoint("leftover"));
        Run("mount", "-t", "tmpfs", "-o", "size=64k", "csvol-test-leftover", Mountpoint("leftover"));
        var holder = Hold(Mountpoint("leftover"));
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);

        var create = await client.CallAsync("/VolumeDriver.Create", new { Name = "fresh" });
        var mount = await client.CallAsync("/VolumeDriver.Mount", new { Name = "fresh", ID = "c1" });
        var stillThere = TempDir.MountCount(Mountpoint("leftover"));
        Release(holder);
        var released = await Eventually.TrueAsync(() => TempDir.MountCount(Mountpoint("leftover")) == 0);

        create.AssertOk();
        mount.AssertOk();
        Assert.Equal(1, stillThere);
        Assert.True(released, "the leftover mount was not released after its holder went away: " + sut.Output);
    }

    [Fact]
    public async Task Unmount_MountBusy_IdReleasedAndRemoveSucceedsOnceFree()
    {
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);
        (await client.CallAsync("/VolumeDriver.Create", new { Name = "busy" })).AssertOk();
        (await client.CallAsync("/VolumeDriver.Mount", new { Name = "busy", ID = "c1" })).AssertOk();
        var holder = Hold(Mountpoint("busy"));

        var unmount = await client.CallAsync("/VolumeDriver.Unmount", new { Name = "busy", ID = "c1" });
        var removeWhileBusy = await client.CallAsync("/VolumeDriver.Remove", new { Name = "busy" });
        Release(holder);
        var remove = await client.CallAsync("/VolumeDriver.Remove", new { Name = "busy" });

        Assert.Contains("is no longer held by any container, but releasing it failed", unmount.Err, StringComparison.Ordinal);
        Assert.Contains("fuser -vm", unmount.Err, StringComparison.Ordinal);
        Assert.Contains("cannot be released", removeWhileBusy.Err, StringComparison.Ordinal);
        remove.AssertOk();
        Assert.Equal(0, TempDir.MountCount(Mountpoint("busy")));
        Assert.False(Directory.Exists(State("data", "busy")));
    }

    [Fact]
    public async Task Mount_HeldMountRemovedByHand_MountedAgainNotAnEmptyDirectory()
    {
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);
        (await client.CallAsync("/VolumeDriver.Create", new { Name = "db" })).AssertOk();
        await File.WriteAllTextAsync(State("data", "db", "table"), "rows");
        (await client.CallAsync("/VolumeDriver.Mount", new { Name = "db", ID = "c1" })).AssertOk();
        Run("umount", Mountpoint("db"));

        var second = await client.CallAsync("/VolumeDriver.Mount", new { Name = "db", ID = "c2" });

        Assert.Equal(Mountpoint("db"), second.AssertOk().Json.GetProperty("Mountpoint").GetString());
        Assert.Equal("rows", await File.ReadAllTextAsync(Path.Combine(Mountpoint("db"), "table")));
    }

    [Fact]
    public async Task Start_RecordFromAnotherBoot_IdsDroppedAndNothingMounted()
    {
        using (var first = CsvolProcess.Start(_environment))
        {
            using var client = await first.WaitUntilReadyAsync(Socket);
            (await client.CallAsync("/VolumeDriver.Create", new { Name = "rebooted" })).AssertOk();
            (await client.CallAsync("/VolumeDriver.Mount", new { Name = "rebooted", ID = "c1" })).AssertOk();
            first.Kill9();
        }

        Run("umount", Mountpoint("rebooted")); // a reboot leaves nothing mounted
        var record = JsonNode.Parse(await File.ReadAllTextAsync(State("volumes", "rebooted.json")))!;
        Assert.Equal(await File.ReadAllTextAsync("/proc/sys/kernel/random/boot_id"), record["BootId"]!.GetValue<string>() + "\n");
        record["BootId"] = "00000000-0000-0000-0000-000000000000";
        await File.WriteAllTextAsync(State("volumes", "rebooted.json"), record.ToJsonString());

        using var sut = CsvolProcess.Start(_environment);
        using var after = await sut.WaitUntilReadyAsync(Socket);
        var get = await after.CallAsync("/VolumeDriver.Get", new { Name = "rebooted" });
        await Task.Delay(1500); // a restore that wrongly mounted it would have done so by now (repair runs every 1 s)

        Assert.Equal("0", get.AssertOk().Json.GetProperty("Volume").GetProperty("Status").GetProperty("mounts").GetString());
        Assert.Equal(0, TempDir.MountCount(Mountpoint("rebooted")));
        (await after.CallAsync("/VolumeDriver.Remove", new { Name = "rebooted" })).AssertOk();
    }

    [Fact]
    public async Task Start_RecordFromNewerCsvol_RefusesNamingTheVersion()
    {
        Directory.CreateDirectory(State("volumes"));
        const string newer = """{"Version":7,"Name":"future","Backend":"local","Options":{},"Facts":{},"CreatedAt":"2027-01-01T00:00:00Z","MountIds":[]}""";
        await File.WriteAllTextAsync(State("volumes", "future.json"), newer);
        using var sut = CsvolProcess.Start(_environment);

        var exitCode = await sut.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, exitCode);
        Assert.Contains("has version 7, newer than this csvol understands", sut.Output, StringComparison.Ordinal);
        Assert.Equal(newer, await File.ReadAllTextAsync(State("volumes", "future.json")));
    }

    [Fact]
    public async Task Start_DataRootEmptiedOrUnmounted_RecordsKept()
    {
        await CreateAndStopAsync("one", "two");
        foreach (var entry in Directory.EnumerateFileSystemEntries(State("data")))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }

        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);
        await Task.Delay(1000); // restores finish within this on an idle machine; a wrong Gone would have deleted by now

        Assert.Equal(["one", "two"], Names(await client.PostAsync("/VolumeDriver.List")));
        Assert.True(File.Exists(State("volumes", "one.json")));
        Assert.True(File.Exists(State("volumes", "two.json")));
    }

    [Fact]
    public async Task Remove_RecordCannotBeDeleted_DataPutBackNotLeftInTrash()
    {
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);
        (await client.CallAsync("/VolumeDriver.Create", new { Name = "stuck" })).AssertOk();
        await File.WriteAllTextAsync(State("data", "stuck", "precious"), "keep me");
        Run("chattr", "+i", State("volumes", "stuck.json")); // unlink fails with EPERM

        var remove = await client.CallAsync("/VolumeDriver.Remove", new { Name = "stuck" });
        Run("chattr", "-i", State("volumes", "stuck.json"));

        Assert.NotNull(remove.Err);
        Assert.Equal("keep me", await File.ReadAllTextAsync(State("data", "stuck", "precious")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(State("trash")));
        (await client.CallAsync("/VolumeDriver.Get", new { Name = "stuck" })).AssertOk();
    }

    [Fact]
    public async Task HostUser_SetuidProgramAContainerPutInAVolume_CannotRunIt()
    {
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);
        (await client.CallAsync("/VolumeDriver.Create", new { Name = "v1", Opts = new { mode = "0755" } })).AssertOk();
        (await client.CallAsync("/VolumeDriver.Mount", new { Name = "v1", ID = "c1" })).AssertOk();
        // What root in a container can do through the mount: a set-user-ID root copy of id.
        File.Copy("/usr/bin/id", Path.Combine(Mountpoint("v1"), "id"));
        File.SetUnixFileMode(Path.Combine(Mountpoint("v1"), "id"), (UnixFileMode)0b100_111_101_101); // 4755

        var throughData = RunAsNobody(State("data", "v1", "id"));
        var throughMount = RunAsNobody(Path.Combine(Mountpoint("v1"), "id"));

        Assert.DoesNotContain("euid=0", throughData, StringComparison.Ordinal);
        Assert.DoesNotContain("euid=0", throughMount, StringComparison.Ordinal);
        Assert.Contains("Permission denied", throughData, StringComparison.Ordinal);
        Assert.Contains("Permission denied", throughMount, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(State("data", "v1"))); // the volume root keeps its mode
        Assert.Equal((UnixFileMode)0b110_110_000, File.GetUnixFileMode(Socket) & (UnixFileMode)0b111_111_111);
    }

    /// <summary>Runs <paramref name="program"/> as nobody (a host user who is not root) and returns what it printed.</summary>
    private static string RunAsNobody(string program)
    {
        // runuser, not setpriv: setpriv --reuid kept root's capabilities here, so every path was open to it.
        var start = new ProcessStartInfo("runuser") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-u", "nobody", "--", program })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return output;
    }

    private async Task CreateAndStopAsync(params string[] names)
    {
        using var sut = CsvolProcess.Start(_environment);
        using var client = await sut.WaitUntilReadyAsync(Socket);
        foreach (var name in names)
        {
            (await client.CallAsync("/VolumeDriver.Create", new { Name = name })).AssertOk();
        }

        sut.Kill9();
    }

    /// <summary>A host process with its working directory inside <paramref name="directory"/>, which keeps a mount there busy.</summary>
    private Process Hold(string directory)
    {
        var holder = Process.Start(new ProcessStartInfo("sleep", "600") { WorkingDirectory = directory })!;
        _holders.Add(holder);
        return holder;
    }

    private static void Release(Process holder)
    {
        if (!holder.HasExited)
        {
            holder.Kill();
            holder.WaitForExit();
        }
    }

    private static void Run(string command, params string[] arguments) => Run(command, arguments, mustSucceed: true);

    private static void Run(string command, string[] arguments, bool mustSucceed)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(!mustSucceed || process.ExitCode == 0, $"{command} {string.Join(' ', arguments)} failed: {error}");
    }

    private static string[] Names(PluginResponse list) =>
        [.. list.AssertOk().Json.GetProperty("Volumes").EnumerateArray().Select(v => v.GetProperty("Name").GetString()!).Order()];
}
