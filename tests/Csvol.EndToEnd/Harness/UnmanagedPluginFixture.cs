namespace Csvol.EndToEnd.Harness;

/// <summary>A collection's handle on the shared unmanaged csvol (<see cref="UnmanagedPlugin"/>).</summary>
public sealed class UnmanagedPluginFixture : IPluginUnderTest, IAsyncLifetime
{
    private UnmanagedPlugin? _plugin;

    private UnmanagedPlugin Plugin => _plugin ?? throw new InvalidOperationException("the fixture is not initialized");

    public string Driver => Plugin.Driver;

    public string HostStateDirectory => Plugin.HostStateDirectory;

    public int ProcessId => Plugin.ProcessId;

    public bool IsRunning => Plugin.IsRunning;

    public string HostMountpointOf(string name) => Plugin.HostMountpointOf(name);

    public async Task InitializeAsync() => _plugin = await UnmanagedPlugin.AcquireAsync();

    public async Task DisposeAsync()
    {
        if (_plugin is not null)
        {
            await UnmanagedPlugin.ReleaseAsync();
        }
    }
}
