namespace Csvol.Tests.Support;

/// <summary>A test class that gets a fresh plugin (own socket, state and mount root) per test.</summary>
public abstract class PluginHostTest : IAsyncLifetime
{
    private PluginHost? _host;

    internal PluginHost Host => _host ?? throw new InvalidOperationException("the plugin is not started");

    internal PluginClient Sut => Host.Client;

    public async Task InitializeAsync() => _host = await PluginHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}
