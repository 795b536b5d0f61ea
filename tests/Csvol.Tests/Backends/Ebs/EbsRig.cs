using Csvol.Backends.Ebs;
using Csvol.FakeCloud.Ec2;
using Csvol.FakeCloud.Imds;
using Csvol.Hosting;
using Csvol.Linux;
using Csvol.Tests.FakeCloud;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.Ebs;

/// <summary>
/// Two "hosts" (real plugins with CSVOL_BACKEND=ebs, each with its own fake IMDS and instance id) sharing one fake EC2
/// whose attachments are real loop devices under one device root.
/// </summary>
internal sealed class EbsRig : IAsyncDisposable
{
    public const string InstanceA = "i-0aaaaaaaaaaaaaaa1";
    public const string InstanceB = "i-0bbbbbbbbbbbbbbb2";
    private readonly List<PluginHost> _hosts = [];
    private readonly List<FakeImdsServer> _imds = [];

    private EbsRig(TempDir dir, FakeEc2Server ec2)
    {
        Dir = dir;
        Ec2 = ec2;
    }

    public TempDir Dir { get; }

    public FakeEc2Server Ec2 { get; }

    public PluginHost A => _hosts[0];

    public PluginHost B => _hosts[1];

    /// <summary>Host A's instance metadata service (stop it to see csvol without IMDS).</summary>
    public FakeImdsServer ImdsA => _imds[0];

    /// <param name="variables">More settings for both hosts (e.g. a short CSVOL_EBS_ATTACH_TIMEOUT).</param>
    /// <param name="ec2Endpoint">Another EC2 for the plugins (moto) instead of the fake.</param>
    public static async Task<EbsRig> StartAsync(IReadOnlyDictionary<string, string?>? variables = null, Uri? ec2Endpoint = null)
    {
        Root.Require();
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        var dir = new TempDir();
        var ec2 = await FakeEc2Server.StartAsync(new FakeEc2Options
        {
            DataDirectory = dir.Sub("data"),
            DeviceRoot = dir.Sub("dev"),
            DeleteDataOnDispose = true,
            CreateDelay = TimeSpan.FromMilliseconds(30),
            AttachDelay = TimeSpan.FromMilliseconds(30),
            DetachDelay = TimeSpan.FromMilliseconds(30),
        });
        var rig = new EbsRig(dir, ec2);
        foreach (var instance in new[] { InstanceA, InstanceB })
        {
            ec2.AddInstance(instance, "us-east-1a");
            var imds = await FakeImdsServer.StartAsync(new FakeImdsOptions { InstanceId = instance, AvailabilityZone = "us-east-1a" });
            rig._imds.Add(imds);
            var settings = new Dictionary<string, string?>(variables ?? new Dictionary<string, string?>())
            {
                [CsvolSettings.BackendVariable] = EbsBackend.BackendName,
                [CsvolSettings.DiscoveryIntervalVariable] = "1",
                [EbsSettings.ImdsUrlVariable] = imds.BaseUri.ToString(),
                [EbsSettings.EndpointVariable] = (ec2Endpoint ?? ec2.BaseUri).ToString(),
                [EbsSettings.DeviceRootVariable] = dir.Sub("dev"),
                [EbsSettings.SysfsRootVariable] = dir.Sub("dev", "sys"),
                [EbsSettings.ClusterVariable] = "test",
                ["AWS_REGION"] = "us-east-1",
                ["AWS_ACCESS_KEY_ID"] = "AKIDFAKE",
                ["AWS_SECRET_ACCESS_KEY"] = "fake-secret",
            };
            rig._hosts.Add(await PluginHost.StartAsync(variables: settings));
        }

        return rig;
    }

    /// <summary>The fake's data file of <paramref name="volumeId"/> (what its loop device reads).</summary>
    public string DataFileOf(string volumeId) => Dir.Sub("data", volumeId + ".img");

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAppAsync();
            foreach (var mountpoint in TempDir.MountsUnder(host.Dir.Path).OrderByDescending(m => m.Length))
            {
                _ = Libc.TryUnmount(mountpoint, UnmountFlags.None);
            }
        }

        await Ec2.DisposeAsync();
        foreach (var imds in _imds)
        {
            await imds.DisposeAsync();
        }

        foreach (var host in _hosts)
        {
            Assert.Empty(TempDir.MountsUnder(host.Dir.Path));
            await host.DisposeAsync();
        }

        Assert.Empty(await FakeEc2ServerTests.LoopsBackedBy(Dir.Path));
        Assert.Empty(Ec2.BackgroundErrors);
        Dir.Dispose();
    }
}
