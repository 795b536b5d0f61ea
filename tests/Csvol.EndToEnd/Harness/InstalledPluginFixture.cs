namespace Csvol.EndToEnd.Harness;

/// <summary>
/// csvol/local installed into the private dockerd by scripts/install.sh (what <c>make install</c> runs), under a
/// name of its own and with its state under <see cref="StateRoot"/>, so installing, upgrading and refusing can be
/// tested without touching csvol/local of the other tests or the real /var/lib/csvol.
/// </summary>
public sealed class InstalledPluginFixture : IPluginUnderTest, IAsyncLifetime
{
    public const string PluginName = "csvol-install-e2e/local";
    public const string StateRoot = "/var/lib/csvol-test/install";

    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(10);

    private static readonly Dictionary<string, string> Environment = new(StringComparer.Ordinal)
    {
        ["CSVOL_PLUGIN_NAME"] = PluginName,
        ["CSVOL_STATE_ROOT"] = StateRoot,
    };

    public string Driver => PluginName;

    public string HostStateDirectory => Path.Combine(StateRoot, "local");

    /// <summary>What the first install printed.</summary>
    public CommandResult FirstInstall { get; private set; } = null!;

    public string HostMountpointOf(string name) =>
        throw new NotSupportedException("the install tests look at volumes through containers and the state directory");

    public static Task<CommandResult> InstallAsync() => Docker.ScriptAsync("install.sh", Environment, ScriptTimeout, "local");

    public static Task<CommandResult> UninstallAsync() => Docker.ScriptAsync("uninstall.sh", Environment, ScriptTimeout, "local");

    public static Task<string> PluginIdAsync() => Docker.MustAsync("plugin", "inspect", "-f", "{{.Id}}", PluginName);

    public async Task InitializeAsync()
    {
        await TestEnvironment.EnsureAsync();
        await RemoveAsync(); // what a killed run left

        // A state directory every host user may read and write, as a careless `mkdir` could leave it.
        Directory.CreateDirectory(HostStateDirectory);
        File.SetUnixFileMode(HostStateDirectory, (UnixFileMode)Convert.ToInt32("777", 8));
        FirstInstall = (await InstallAsync()).MustSucceed();
    }

    public async Task DisposeAsync() => await RemoveAsync();

    /// <summary>The containers and volumes of the plugin, the plugin (by uninstall.sh) and its state directory.</summary>
    private async Task RemoveAsync()
    {
        var containers = await Docker.MustAsync("ps", "-aq", "--filter", "label=" + Docker.Label + "=" + Driver);
        foreach (var id in containers.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            await Docker.RunAsync("rm", "-f", id);
        }

        var volumes = await Docker.MustAsync("volume", "ls", "-q", "--filter", "driver=" + PluginName + ":latest");
        foreach (var volume in volumes.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            await Docker.RunAsync("volume", "rm", "-f", volume);
        }

        (await UninstallAsync()).MustSucceed();
        if (Directory.Exists(StateRoot))
        {
            Directory.Delete(StateRoot, recursive: true);
        }
    }
}
