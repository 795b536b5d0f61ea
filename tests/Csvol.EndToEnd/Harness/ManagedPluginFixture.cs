namespace Csvol.EndToEnd.Harness;

/// <summary>
/// The managed plugin <c>csvol/local</c> in the private dockerd (built by scripts/test.sh, or here when it is
/// missing), enabled with its state on a test directory instead of the real /var/lib/csvol/local.
/// </summary>
/// <remarks>
/// It also keeps the shared unmanaged plugin running while its tests run, so dockerd never waits for a
/// stopped unmanaged driver it remembers (see <see cref="UnmanagedPlugin"/>).
/// </remarks>
public sealed class ManagedPluginFixture : IPluginUnderTest, IAsyncLifetime
{
    public const string PluginName = "csvol/local";
    public const string StateSource = "/var/lib/csvol-test/managed-local";

    private string _propagatedMount = "";
    private bool _holdsUnmanaged;

    public string Driver => PluginName;

    public string HostStateDirectory => StateSource;

    public string HostMountpointOf(string name) => Path.Combine(_propagatedMount, name);

    public async Task InitializeAsync()
    {
        await TestEnvironment.EnsureAsync();
        await UnmanagedPlugin.AcquireAsync();
        _holdsUnmanaged = true;
        if (!(await Docker.RunAsync("plugin", "inspect", PluginName)).Succeeded)
        {
            (await Docker.ScriptAsync("build-plugin.sh", TimeSpan.FromMinutes(10), "local")).MustSucceed();
        }

        var enabled = await Docker.MustAsync("plugin", "inspect", "-f", "{{.Enabled}}", PluginName) == "true";
        var source = await Docker.MustAsync("plugin", "inspect", "-f",
            "{{range .Settings.Mounts}}{{if eq .Name \"state\"}}{{.Source}}{{end}}{{end}}", PluginName);
        Directory.CreateDirectory(StateSource);
        if (source != StateSource)
        {
            if (enabled)
            {
                await Docker.MustAsync("plugin", "disable", "-f", PluginName);
                enabled = false;
            }

            await Docker.MustAsync("plugin", "set", PluginName, "state.source=" + StateSource);
        }

        if (!enabled)
        {
            await EnableAsync();
        }

        var id = await Docker.MustAsync("plugin", "inspect", "-f", "{{.Id}}", PluginName);
        var dockerRoot = await Docker.MustAsync("info", "-f", "{{.DockerRootDir}}");
        _propagatedMount = Path.Combine(dockerRoot, "plugins", id, "propagated-mount");
    }

    public static async Task EnableAsync() =>
        await Docker.MustAsync("plugin", "enable", "--timeout", "60", PluginName);

    // The plugin stays enabled for the next collection and the next run; scripts/test.sh rebuilds it.
    public async Task DisposeAsync()
    {
        if (_holdsUnmanaged)
        {
            await UnmanagedPlugin.ReleaseAsync();
        }
    }
}
