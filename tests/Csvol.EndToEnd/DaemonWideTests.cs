using System.Diagnostics;
using Csvol.EndToEnd.Harness;

namespace Csvol.EndToEnd;

/// <summary>
/// Things that touch the whole daemon (restart, plugin disable, prune), so they run alone: see
/// <see cref="DaemonWideCollection"/>.
/// </summary>
[Collection(DaemonWideCollection.Name)]
public sealed class DaemonWideTests(ManagedPluginFixture managed, UnmanagedPluginFixture unmanaged) : IAsyncLifetime
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly DockerScope _managedDocker = new(managed);
    private readonly DockerScope _unmanagedDocker = new(unmanaged);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _managedDocker.DisposeAsync();
        await _unmanagedDocker.DisposeAsync();
    }

    /// <summary>
    /// csvol/nfs as a managed plugin in a real dockerd: built by the project's script (its binary is the one the NFS
    /// rig's guests run), enabled, and answering through dockerd with its own Err. No NFS server is needed for that:
    /// a volume without a server is refused before any mount. Removed again afterwards.
    /// </summary>
    [Fact]
    public async Task ManagedPluginNfs_BuildsEnablesAndAnswersThroughDockerd()
    {
        const string plugin = "csvol/nfs";
        const string state = "/var/lib/csvol-test/managed-nfs";
        _ = await Docker.RunAsync("plugin", "rm", "-f", plugin);
        try
        {
            (await Docker.ScriptAsync("build-plugin.sh", TimeSpan.FromMinutes(10), "nfs")).MustSucceed();
            Directory.CreateDirectory(state);
            await Docker.MustAsync("plugin", "set", plugin, "state.source=" + state);
            await Docker.MustAsync("plugin", "enable", "--timeout", "60", plugin);

            var enabled = await Docker.MustAsync("plugin", "inspect", "-f", "{{.Enabled}}", plugin);
            var refused = await Docker.RunAsync("volume", "create", "-d", plugin, "nfs-e2e-noserver");
            var listed = await Docker.MustAsync("volume", "ls", "-q", "--filter", "driver=" + plugin);

            Assert.Equal("true", enabled);
            Assert.False(refused.Succeeded);
            Assert.Contains("option \"server\" is needed: this plugin has no CSVOL_NFS_SERVER", refused.StdErr, StringComparison.Ordinal);
            Assert.Equal("", listed);
        }
        finally
        {
            _ = await Docker.RunAsync("plugin", "disable", "-f", plugin);
            _ = await Docker.RunAsync("plugin", "rm", "-f", plugin);
            if (Directory.Exists(state))
            {
                Directory.Delete(state, recursive: true);
            }
        }
    }

    [Fact]
    public async Task PluginDisableEnable_VolumeWithData_DataSurvives()
    {
        var sut = managed;
        var name = await _managedDocker.CreateVolumeAsync("uid=999", "mode=0700");
        (await _managedDocker.RunAsync(["--user", "999", "-v", name + ":/d"], "echo kept > /d/f")).MustSucceed();

        await Docker.MustAsync("plugin", "disable", "-f", sut.Driver);
        await ManagedPluginFixture.EnableAsync();
        var read = await _managedDocker.RunAsync(["--user", "999", "-v", name + ":/d"], "cat /d/f");

        Assert.Equal("kept", read.MustSucceed().StdOut.Trim());
    }

    [Fact]
    public async Task DockerdRestart_ManagedVolume_DataSurvives()
    {
        var name = await _managedDocker.CreateVolumeAsync();
        (await _managedDocker.RunAsync(["-v", name + ":/d"], "echo kept > /d/f")).MustSucceed();

        await RestartDockerdAsync();
        var read = await RunWhenVolumeVisibleAsync(_managedDocker, name, "cat /d/f");

        Assert.Equal("kept", read.MustSucceed().StdOut.Trim());
        Assert.Equal("true", await Docker.MustAsync("plugin", "inspect", "-f", "{{.Enabled}}", managed.Driver));
    }

    [Fact]
    public async Task DockerdRestart_UnmanagedVolume_DataSurvivesAndPluginKeepsRunning()
    {
        var sut = unmanaged;
        var pid = sut.ProcessId;
        var name = await _unmanagedDocker.CreateVolumeAsync("type=dir", "nosuid");
        (await _unmanagedDocker.RunAsync(["-v", name + ":/d"], "echo kept > /d/f")).MustSucceed();

        await RestartDockerdAsync();
        var read = await RunWhenVolumeVisibleAsync(_unmanagedDocker, name, "cat /d/f");

        Assert.Equal("kept", read.MustSucceed().StdOut.Trim());
        Assert.True(sut.IsRunning, "the unmanaged plugin process stopped with dockerd");
        Assert.Equal(pid, sut.ProcessId);
    }

    // The private dockerd runs with --bridge=none, which makes dockerd delete any docker0 link it finds at start:
    // in the host's network namespace that was the host's Docker bridge. Restarting it must change nothing there.
    [Fact]
    public async Task DockerdRestart_HostLinksAndRoutes_Unchanged()
    {
        var name = await _managedDocker.CreateVolumeAsync();
        var before = await HostNetwork.SnapshotAsync();

        await RestartDockerdAsync();
        var after = await HostNetwork.SnapshotAsync();
        // Also waits for the managed plugin to be back, for the tests after this one.
        var used = await RunWhenVolumeVisibleAsync(_managedDocker, name, "true");

        Assert.Equal(before, after);
        used.MustSucceed();
        Assert.NotEqual(HostNetwork.OwnNamespace(), await HostNetwork.PrivateDockerdNamespaceAsync());
    }

    // Docker's prune only ever removes volumes of its built-in local driver (moby daemon/prune.go); a
    // plugin's volumes are the user's to remove. This pins that down so the README can promise it.
    [Fact]
    public async Task VolumePrune_UnusedCsvolVolumes_LeftAlone()
    {
        var managedVolume = await _managedDocker.CreateVolumeAsync();
        var unmanagedVolume = await _unmanagedDocker.CreateVolumeAsync();

        var prune = await Docker.RunAsync("volume", "prune", "-f");

        prune.MustSucceed();
        (await Docker.RunAsync("volume", "inspect", managedVolume)).MustSucceed();
        (await Docker.RunAsync("volume", "inspect", unmanagedVolume)).MustSucceed();
        Assert.True(Directory.Exists(managed.HostDataDirectoryOf(managedVolume)));
        Assert.True(Directory.Exists(unmanaged.HostDataDirectoryOf(unmanagedVolume)));
    }

    // What to do instead of prune: remove the dangling volumes of the driver. The driver filter must name
    // the plugin with its tag. (`docker volume ls` asks every driver dockerd has seen, so here it waits ~15 s
    // for the unmanaged plugins that earlier collections stopped; dockerd forgets them when it restarts.)
    [Fact]
    public async Task RemoveDangling_UsedAndUnusedVolumes_RemovesOnlyUnused()
    {
        var sut = managed;
        var unused = await _managedDocker.CreateVolumeAsync();
        var used = await _managedDocker.CreateVolumeAsync();
        await _managedDocker.StartAsync(["-v", used + ":/d"]);

        var dangling = (await Docker.MustAsync("volume", "ls", "-q", "--filter", "dangling=true", "--filter", "driver=" + sut.Driver + ":latest"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var remove = await Docker.RunAsync(["volume", "rm", .. dangling]);

        remove.MustSucceed();
        Assert.Contains(unused, dangling);
        Assert.DoesNotContain(used, dangling);
        Assert.False((await Docker.RunAsync("volume", "inspect", unused)).Succeeded, "the unused volume is still there");
        Assert.Equal("1", await DockerScope.StatusAsync(used, "mounts"));
        Assert.False(Directory.Exists(sut.HostDataDirectoryOf(unused)));
        Assert.True(Directory.Exists(sut.HostDataDirectoryOf(used)));
    }

    private static async Task RestartDockerdAsync() =>
        (await Docker.ScriptAsync("dockerd.sh", TimeSpan.FromMinutes(2), "restart")).MustSucceed();

    /// <summary>
    /// dockerd answers before it has started its managed plugins again; a user retrying sees the volume once
    /// the plugin is back. Bounded.
    /// </summary>
    private static async Task<CommandResult> RunWhenVolumeVisibleAsync(DockerScope docker, string name, string script)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var result = await docker.RunAsync(["-v", name + ":/d"], script);
            if (result.Succeeded || waited.Elapsed > ReadyTimeout)
            {
                return result;
            }

            await Task.Delay(500);
        }
    }
}
