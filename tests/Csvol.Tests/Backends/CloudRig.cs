using Csvol.Linux;
using Csvol.Tests.FakeCloud;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends;

/// <summary>
/// Two "hosts" (real plugins in this process, each with its own state and mount root) in front of one fake cloud whose
/// attachments are real loop devices under <see cref="Dir"/>; disposing checks that nothing is left mounted or attached.
/// </summary>
internal abstract class CloudRig(TempDir dir) : IAsyncDisposable
{
    protected List<PluginHost> Hosts { get; } = [];

    /// <summary>The fakes to stop (the cloud first, then the metadata services).</summary>
    protected List<IAsyncDisposable> Fakes { get; } = [];

    public TempDir Dir { get; } = dir;

    public PluginHost A => Hosts[0];

    public PluginHost B => Hosts[1];

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Hosts)
        {
            await host.StopAppAsync();
            foreach (var mountpoint in TempDir.MountsUnder(host.Dir.Path).OrderByDescending(m => m.Length))
            {
                _ = Libc.TryUnmount(mountpoint, UnmountFlags.None);
            }
        }

        foreach (var fake in Fakes)
        {
            await fake.DisposeAsync();
        }

        foreach (var host in Hosts)
        {
            Assert.Empty(TempDir.MountsUnder(host.Dir.Path));
            await host.DisposeAsync();
        }

        Assert.Empty(await FakeEc2ServerTests.LoopsBackedBy(Dir.Path));
        Assert.Empty(BackgroundErrors);
        Dir.Dispose();
    }

    /// <summary>State changes the fake cloud could not make (e.g. a losetup that failed); a test expects none.</summary>
    protected abstract IReadOnlyList<Exception> BackgroundErrors { get; }
}
