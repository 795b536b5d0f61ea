using Csvol.EndToEnd.Harness;

namespace Csvol.EndToEnd;

/// <summary>
/// <c>make install</c> (scripts/install.sh) run again over an installed plugin: it upgrades in place while no running
/// container has a csvol volume mounted, and refuses, naming them, while one does. In the daemon-wide collection:
/// installing rebuilds the plugin image other collections' fixtures use.
/// </summary>
[Collection(DaemonWideCollection.Name)]
public sealed class InstallTests(InstalledPluginFixture installed) : IClassFixture<InstalledPluginFixture>, IAsyncLifetime
{
    private static readonly UnixFileMode[] PrivateModes = [(UnixFileMode)Convert.ToInt32("700", 8), (UnixFileMode)Convert.ToInt32("701", 8)];

    private readonly DockerScope _docker = new(installed);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _docker.DisposeAsync();

    [Fact]
    public async Task Install_StateDirectoryOthersCanWrite_TightenedAndUsedAsState()
    {
        var sut = installed;

        var source = await Docker.MustAsync("plugin", "inspect", "-f",
            "{{range .Settings.Mounts}}{{if eq .Name \"state\"}}{{.Source}}{{end}}{{end}}", sut.Driver);

        Assert.Contains(File.GetUnixFileMode(sut.HostStateDirectory), PrivateModes);
        Assert.Contains("tightened " + sut.HostStateDirectory + " from mode 777 to 0700", sut.FirstInstall.StdErr, StringComparison.Ordinal);
        Assert.Equal(sut.HostStateDirectory, source);
    }

    [Fact]
    public async Task Install_AgainWithVolumeAndStoppedContainer_UpgradesAndVolumeRecordAndFileSurvive()
    {
        var name = await _docker.CreateVolumeAsync("mode=0755");
        (await _docker.RunAsync(["-v", name + ":/d"], "echo kept > /d/f")).MustSucceed();
        var stopped = await _docker.StartAsync(["-v", name + ":/d"], "cat /d/f");
        await Docker.MustAsync("wait", stopped);
        var pluginBefore = await InstalledPluginFixture.PluginIdAsync();

        var install = await InstalledPluginFixture.InstallAsync();

        install.MustSucceed();
        Assert.NotEqual(pluginBefore, await InstalledPluginFixture.PluginIdAsync());
        Assert.Contains(stopped, install.StdErr, StringComparison.Ordinal);
        Assert.Contains(name, (await Docker.MustAsync("volume", "ls", "-q", "--filter", "driver=" + installed.Driver + ":latest")).Split('\n'));
        Assert.True(File.Exists(Path.Combine(installed.HostStateDirectory, "volumes", name + ".json")), "the volume's record is gone");
        Assert.Equal("kept", (await _docker.RunAsync(["-v", name + ":/d"], "cat /d/f")).MustSucceed().StdOut.Trim());
        Assert.Equal("kept", (await Docker.MustAsync("start", "-a", stopped)).Trim());
        Assert.Contains(File.GetUnixFileMode(installed.HostStateDirectory), PrivateModes);
        Assert.Equal((UnixFileMode)Convert.ToInt32("755", 8), File.GetUnixFileMode(installed.HostDataDirectoryOf(name)));
    }

    [Fact]
    public async Task Install_RunningContainerHasVolumeMounted_RefusesNamingItAndChangesNothing()
    {
        var name = await _docker.CreateVolumeAsync();
        var running = await _docker.StartAsync(["-v", name + ":/d"], "echo kept > /d/f && sleep 300");
        var id = await Docker.MustAsync("inspect", "-f", "{{.Id}}", running);
        var pluginBefore = await InstalledPluginFixture.PluginIdAsync();

        var install = await InstalledPluginFixture.InstallAsync();

        Assert.NotEqual(0, install.ExitCode);
        Assert.Contains($"{running} ({id[..12]}) has volume {name}", install.StdErr, StringComparison.Ordinal);
        Assert.Equal(pluginBefore, await InstalledPluginFixture.PluginIdAsync());
        Assert.Equal("true", await Docker.MustAsync("plugin", "inspect", "-f", "{{.Enabled}}", installed.Driver));
        Assert.Equal("true", await Docker.MustAsync("inspect", "-f", "{{.State.Running}}", running));
        var read = await DockerScope.ExecUntilAsync(running, "cat /d/f", TimeSpan.FromSeconds(10));
        Assert.Equal("kept", read.MustSucceed().StdOut.Trim());
    }
}
