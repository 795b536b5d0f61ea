using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Csvol.Tests.Support;
using Xunit.Abstractions;

namespace Csvol.Tests.Backends.Nfs.Rig;

/// <summary>
/// csvol/nfs against a real NFS server, driven over Docker's plugin protocol on two hosts (QEMU guests with their own
/// kernel NFS clients). Nothing here is mocked: every mount is mount.nfs in a guest, every file goes through ganesha.
/// </summary>
[Collection(NfsRigCollection.Name)]
public sealed class NfsRigTests(NfsRig rig, ITestOutputHelper output)
{
    /// <summary>What "bounded" means with the server gone: a few watchdog steps, far inside dockerd's 30 s, loose for a noisy machine.</summary>
    private static readonly TimeSpan Answered = TimeSpan.FromSeconds(25);

    /// <summary>Discovery runs every 2 s in the guests; TCG guests on a busy machine are slow.</summary>
    private static readonly TimeSpan Discovered = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task Create_OnHostA_ListedAndInspectableOnHostB()
    {
        output.WriteLine($"rig built and booted in {rig.StartTime.TotalSeconds:0.0} s");
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "shared1", Opts = new Dictionary<string, string> { ["o"] = "noatime" } })).AssertOk();

        Assert.True(await ListedAsync(rig.B, "shared1", Discovered), "volume created on host a is not listed on host b");
        var status = (await rig.B.Plugin.CallAsync("/VolumeDriver.Get", new { Name = "shared1" })).AssertOk().Json.GetProperty("Volume").GetProperty("Status");
        Assert.Equal("nfs-server", status.GetProperty("server").GetString());
        Assert.Equal("/exports/team", status.GetProperty("export").GetString());
        Assert.Equal("shared1", status.GetProperty("subdir").GetString());
        Assert.Contains("noatime", status.GetProperty("options").GetString(), StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Join(rig.Server.Team, "shared1")), "the subdirectory is not on the server");

        // The same Create on the other host finds it (same options), a different one is refused naming both sets.
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "shared1", Opts = new Dictionary<string, string> { ["o"] = "noatime" } })).AssertOk();
        var other = await rig.B.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "shared1", Opts = new Dictionary<string, string> { ["o"] = "soft" } });
        Assert.Contains("already exists with options", other.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mount_OnBothHosts_WritesThroughOneReadThroughTheOther()
    {
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "data1" })).AssertOk();
        Assert.True(await ListedAsync(rig.B, "data1", Discovered));
        var onA = (await rig.A.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "data1", ID = "c-a" })).AssertOk().Json.GetProperty("Mountpoint").GetString();
        var onB = (await rig.B.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "data1", ID = "c-b" })).AssertOk().Json.GetProperty("Mountpoint").GetString();
        Assert.Equal("/mnt/volumes/data1", onA);
        Assert.Contains("nfs-server:/exports/team/data1 /mnt/volumes/data1 nfs4", await rig.A.RunAsync("cat /proc/mounts"), StringComparison.Ordinal);

        var written = Sha256Of(await rig.A.RunAsync($"dd if=/dev/urandom of={onA}/blob bs=64k count=16 2>/dev/null && sha256sum {onA}/blob"));
        var readOnB = Sha256Of(await rig.B.RunAsync($"sha256sum {onB}/blob"));
        var onServer = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Join(rig.Server.Team, "data1", "blob"))));
        Assert.Equal(written, readOnB);
        Assert.Equal(written, onServer);

        Assert.True(await Eventually.TrueAsync(async () =>
            (await rig.A.Plugin.CallAsync("/VolumeDriver.Get", new { Name = "data1" })).Json.GetProperty("Volume").GetProperty("Status").TryGetProperty("usage", out _)),
            "inspect on the mounting host never shows usage");

        await rig.B.RunAsync($"echo from-b > {onB}/back");
        Assert.Equal("from-b", (await rig.A.RunAsync($"cat {onA}/back")).Trim());

        // The last Unmount on a host unmounts there only; the other host keeps its mount.
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "data1", ID = "c-a" })).AssertOk();
        Assert.DoesNotContain("/mnt/volumes/data1 ", await rig.A.RunAsync("cat /proc/mounts"), StringComparison.Ordinal);
        Assert.Equal("from-b", (await rig.B.RunAsync($"cat {onB}/back")).Trim());
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "data1", ID = "c-b" })).AssertOk();
    }

    [Fact]
    public async Task Create_WithUidGidMode_SubdirectoryHasThemOnServerAndBothHosts()
    {
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new
        {
            Name = "owned1",
            Opts = new Dictionary<string, string> { ["subdir"] = "apps/owned1", ["uid"] = "1000", ["gid"] = "2000", ["mode"] = "750" },
        })).AssertOk();

        var onServer = (await ProcessRunner.RunAsync("stat", "-c", "%u %g %a", Path.Join(rig.Server.Team, "apps", "owned1"))).Trim();
        Assert.Equal("1000 2000 750", onServer);
        Assert.Equal("0 0 755", (await ProcessRunner.RunAsync("stat", "-c", "%u %g %a", Path.Join(rig.Server.Team, "apps"))).Trim());
        Assert.True(await ListedAsync(rig.B, "owned1", Discovered));
        var mountpoint = (await rig.B.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "owned1", ID = "c1" })).AssertOk().Json.GetProperty("Mountpoint").GetString();
        Assert.Equal("1000 2000 750", (await rig.B.RunAsync($"stat -c '%u %g %a' {mountpoint}")).Trim());
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "owned1", ID = "c1" })).AssertOk();
    }

    [Fact]
    public async Task Create_OnRootSquashExport_ClearErrNamingServerAndRootSquash()
    {
        var watch = Stopwatch.StartNew();
        var answer = await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "squashed1", Opts = new Dictionary<string, string> { ["share"] = "/exports/squash", ["uid"] = "1000" } });

        output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: {answer.Err}");
        Assert.Equal(500, answer.Status);
        Assert.Contains("NFS server nfs-server refused to let root create nfs-server:/exports/squash/squashed1", answer.Err, StringComparison.Ordinal);
        Assert.Contains("root_squash", answer.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Join(rig.Server.Squash, "squashed1")));
        Assert.DoesNotContain("squashed1", (await rig.A.Plugin.PostAsync("/VolumeDriver.List")).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAndMount_PathMissingOnServer_ErrNamesServerAndPath()
    {
        var noExport = await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "nowhere1", Opts = new Dictionary<string, string> { ["share"] = "/exports/nope" } });
        output.WriteLine(noExport.Err);
        Assert.Contains("cannot mount nfs-server:/exports/nope from NFS server nfs-server: the path does not exist on the server", noExport.Err, StringComparison.Ordinal);

        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "deleted1" })).AssertOk();
        Directory.Delete(Path.Join(rig.Server.Team, "deleted1")); // by hand, on the server
        var mount = await rig.A.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "deleted1", ID = "c1" });
        output.WriteLine(mount.Err);
        Assert.Contains("cannot mount nfs-server:/exports/team/deleted1 from NFS server nfs-server: the path does not exist", mount.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("/mnt/volumes/deleted1 ", await rig.A.RunAsync("cat /proc/mounts"), StringComparison.Ordinal);

        // The export that does not exist is not listed from now on: discovery on host a still sees new volumes.
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "after-nowhere1" })).AssertOk();
        Assert.True(await ListedAsync(rig.A, "after-nowhere1", Discovered), "a failed Create of a missing export stopped host a's discovery");
    }

    [Fact]
    public async Task Remove_CreatedVolume_DeletedFromServerAndGoneOnOtherHost()
    {
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "gone1" })).AssertOk();
        var mountpoint = (await rig.A.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "gone1", ID = "c1" })).AssertOk().Json.GetProperty("Mountpoint").GetString();
        await rig.A.RunAsync($"mkdir -p {mountpoint}/deep/er && echo x > {mountpoint}/deep/er/file");
        Assert.True(await ListedAsync(rig.B, "gone1", Discovered));

        var busy = await rig.A.Plugin.CallAsync("/VolumeDriver.Remove", new { Name = "gone1" });
        Assert.Contains("is in use", busy.Err, StringComparison.Ordinal);
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "gone1", ID = "c1" })).AssertOk();

        (await rig.B.Plugin.CallAsync("/VolumeDriver.Remove", new { Name = "gone1" })).AssertOk();
        Assert.True(await Eventually.TrueAsync(() => !Directory.Exists(Path.Join(rig.Server.Team, "gone1"))), "the subdirectory csvol made is still on the server");
        Assert.True(await Eventually.TrueAsync(() => !Directory.EnumerateFileSystemEntries(Path.Join(rig.Server.Team, ".csvol", "trash")).Any(e => Path.GetFileName(e).StartsWith("gone1~", StringComparison.Ordinal))),
            "the removed data is still in csvol's trash on the server");
        Assert.True(await ListedAsync(rig.A, "gone1", Discovered, listed: false), "host a still lists a volume removed on host b");
        Assert.Contains("not found", (await rig.A.Plugin.CallAsync("/VolumeDriver.Get", new { Name = "gone1" })).Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_AdoptedDirectory_ReleasedWithItsDataKept()
    {
        var existing = Path.Join(rig.Server.Team, "legacy-data");
        Directory.CreateDirectory(existing);
        await File.WriteAllTextAsync(Path.Join(existing, "keep.txt"), "precious");

        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "legacy1", Opts = new Dictionary<string, string> { ["subdir"] = "legacy-data" } })).AssertOk();
        var mountpoint = (await rig.A.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "legacy1", ID = "c1" })).AssertOk().Json.GetProperty("Mountpoint").GetString();
        Assert.Equal("precious", (await rig.A.RunAsync($"cat {mountpoint}/keep.txt")).Trim());
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "legacy1", ID = "c1" })).AssertOk();
        Assert.True(await ListedAsync(rig.B, "legacy1", Discovered));

        (await rig.B.Plugin.CallAsync("/VolumeDriver.Remove", new { Name = "legacy1" })).AssertOk();

        Assert.Equal("precious", await File.ReadAllTextAsync(Path.Join(existing, "keep.txt")));
        Assert.False(File.Exists(Path.Join(rig.Server.Team, ".csvol", "legacy1.json")), "the marker of a released volume is still there");
        Assert.True(await ListedAsync(rig.A, "legacy1", Discovered, listed: false));
    }

    [Fact]
    public async Task Mount_DirectoryReplacedOnServer_StaleHandleMountedAgain()
    {
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "stale1" })).AssertOk();
        var mountpoint = (await rig.A.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "stale1", ID = "c1" })).AssertOk().Json.GetProperty("Mountpoint").GetString();
        await rig.A.RunAsync($"echo old > {mountpoint}/f && cat {mountpoint}/f");

        // Replaced on the server behind the client's back: the client's handle now names a directory that is gone.
        var onServer = Path.Join(rig.Server.Team, "stale1");
        Directory.Delete(onServer, recursive: true);
        Directory.CreateDirectory(onServer);
        await File.WriteAllTextAsync(Path.Join(onServer, "f"), "new\n");
        var (code, text) = await rig.A.ShellAsync($"cat {mountpoint}/f");
        output.WriteLine($"before the second Mount: exit {code}: {text.Trim()}");
        Assert.NotEqual("new", text.Trim());

        (await rig.A.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "stale1", ID = "c2" })).AssertOk();

        Assert.Equal("new", (await rig.A.RunAsync($"cat {mountpoint}/f")).Trim());
        Assert.Contains("stale NFS file handle", await rig.A.RunAsync("cat /var/log-csvol"), StringComparison.Ordinal);
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "stale1", ID = "c1" })).AssertOk();
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "stale1", ID = "c2" })).AssertOk();
    }

    [Fact]
    public async Task EveryCall_ServerDown_AnswersInBoundedTimeWithErrThenRecovers()
    {
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "outage1" })).AssertOk();
        (await rig.A.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "outage1", ID = "c1" })).AssertOk();
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "outage3" })).AssertOk();
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "outage3", ID = "c1" })).AssertOk();
        await rig.B.RunAsync("echo before > /mnt/volumes/outage3/f");
        Assert.True(await ListedAsync(rig.B, "outage1", Discovered));

        await rig.Server.StopAsync();
        try
        {
            var calls = new (RigGuest Guest, string Endpoint, object Body, bool Fails)[]
            {
                (rig.A, "/VolumeDriver.Mount", new { Name = "outage1", ID = "c2" }, true), // the mount in place cannot be checked
                (rig.B, "/VolumeDriver.Mount", new { Name = "outage1", ID = "c3" }, true), // a new mount cannot be made
                (rig.B, "/VolumeDriver.Create", new { Name = "outage2" }, true),
                (rig.B, "/VolumeDriver.Remove", new { Name = "outage1" }, true),
                (rig.B, "/VolumeDriver.Get", new { Name = "outage1" }, false), // answered from the last discovered set
                (rig.B, "/VolumeDriver.List", new { }, false),
                (rig.A, "/VolumeDriver.Path", new { Name = "outage1" }, false),
                (rig.A, "/VolumeDriver.Unmount", new { Name = "outage1", ID = "c1" }, false), // busy with the check above: forced
                (rig.B, "/VolumeDriver.Unmount", new { Name = "outage3", ID = "c1" }, false), // nothing of csvol's inside: plain, else forced, else detached
            };
            foreach (var (guest, endpoint, body, fails) in calls)
            {
                var watch = Stopwatch.StartNew();
                var answer = await guest.Plugin.CallAsync(endpoint, body);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{guest.Name} {endpoint}: {watch.Elapsed.TotalSeconds:0.0} s, {answer.Status} {answer.Body}"));
                Assert.True(watch.Elapsed < Answered, $"{endpoint} on {guest.Name} took {watch.Elapsed.TotalSeconds:0.0} s with the server down");
                if (fails)
                {
                    Assert.Equal(500, answer.Status);
                    Assert.Contains("nfs-server", answer.Err, StringComparison.Ordinal);
                }
                else
                {
                    answer.AssertOk();
                }
            }

            Assert.DoesNotContain("/mnt/volumes/outage1 ", await rig.A.RunAsync("cat /proc/mounts"), StringComparison.Ordinal);
            Assert.DoesNotContain("/mnt/volumes/outage3 ", await rig.B.RunAsync("cat /proc/mounts"), StringComparison.Ordinal);
        }
        finally
        {
            await rig.Server.StartAsync();
        }

        // Back: the same calls succeed again, without touching the guests.
        var recovery = Stopwatch.StartNew();
        PluginResponse mount;
        while ((mount = await rig.B.Plugin.CallAsync("/VolumeDriver.Mount", new { Name = "outage1", ID = "c3" })).Status != 200)
        {
            Assert.True(recovery.Elapsed < TimeSpan.FromSeconds(90), $"Mount does not succeed 90 s after the server returned: {mount.Err}");
            await Task.Delay(1000);
        }

        output.WriteLine($"Mount succeeded {recovery.Elapsed.TotalSeconds:0.0} s after the server returned");
        await rig.B.RunAsync("echo back > /mnt/volumes/outage1/after");
        Assert.Equal("back\n", await File.ReadAllTextAsync(Path.Join(rig.Server.Team, "outage1", "after")));
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Create", new { Name = "outage2" })).AssertOk();
        Assert.Equal("before\n", await File.ReadAllTextAsync(Path.Join(rig.Server.Team, "outage3", "f")));
        (await rig.B.Plugin.CallAsync("/VolumeDriver.Unmount", new { Name = "outage1", ID = "c3" })).AssertOk();
    }

    private static async Task<bool> ListedAsync(RigGuest guest, string name, TimeSpan bound, bool listed = true)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            var body = (await guest.Plugin.PostAsync("/VolumeDriver.List")).Body;
            if (body.Contains($"\"Name\":\"{name}\"", StringComparison.Ordinal) == listed)
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(500);
        }
    }

    private static string Sha256Of(string sha256sumOutput) => sha256sumOutput.Trim().Split(' ')[0];
}
