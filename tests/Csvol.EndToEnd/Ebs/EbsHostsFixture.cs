using System.Diagnostics;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.Ec2;
using Csvol.FakeCloud.Imds;

namespace Csvol.EndToEnd.Ebs;

/// <summary>
/// Two EC2 "instances" in one zone for <c>csvol/ebs</c> (<see cref="TwoHostRig{THost}"/>): one shared fake EC2 whose
/// attachments are real loop devices, and a fake IMDS per instance.
/// </summary>
public sealed class EbsHostsFixture() : TwoHostRig<EbsHost>(
    "ebs",
    new EbsHost("A", "i-0aaaaaaaaaaaaaaa1", new PrivateDockerd("ebs-a"), Path.Combine(RootDirectory, "state-a")),
    new EbsHost("B", "i-0bbbbbbbbbbbbbbb2", new PrivateDockerd("ebs-b"), Path.Combine(RootDirectory, "state-b")))
{
    public const string Cluster = "e2e";
    public const string Zone = "us-east-1a";
    public const string RootDirectory = "/var/lib/csvol-test/ebs-e2e";
    public const string DeviceDirectory = "/dev/csvol-e2e-ebs";

    private readonly List<FakeImdsServer> _imds = [];
    private AmazonEC2Client? _ec2Client;

    public override string Root => RootDirectory;

    public override string DeviceRoot => DeviceDirectory;

    public FakeEc2Server Ec2 { get; private set; } = null!;

    /// <summary>The volumes the fake EC2 holds for csvol volume <paramref name="name"/> (by csvol's tags), as the SDK sees them.</summary>
    public async Task<IReadOnlyList<Volume>> EbsVolumesNamedAsync(string name)
    {
        var answer = await Ec2Client.DescribeVolumesAsync(new DescribeVolumesRequest
        {
            Filters = [new Filter("tag:csvol/cluster", [Cluster]), new Filter("tag:csvol/name", [name])],
        });
        return answer.Volumes ?? [];
    }

    /// <summary>The one EBS volume of <paramref name="name"/>; fails if there is none or more than one.</summary>
    public async Task<Volume> EbsVolumeNamedAsync(string name) => Assert.Single(await EbsVolumesNamedAsync(name));

    /// <summary>Waits (bounded) until the fake says <paramref name="name"/>'s volume is attached nowhere; returns it.</summary>
    public async Task<Volume> AwaitDetachedAsync(string name, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var volume = await EbsVolumeNamedAsync(name);
            if ((volume.Attachments ?? []).Count == 0 && volume.State == VolumeState.Available)
            {
                return volume;
            }

            Assert.True(waited.Elapsed < timeout,
                $"EBS volume {volume.VolumeId} of \"{name}\" is still {volume.State} (attached to {string.Join(", ", (volume.Attachments ?? []).Select(a => $"{a.InstanceId} {a.State}"))}) after {timeout.TotalSeconds:0} s");
            await Task.Delay(200);
        }
    }

    private AmazonEC2Client Ec2Client => _ec2Client ??= new AmazonEC2Client(
        new BasicAWSCredentials("AKIDFAKE", "fake-secret"),
        new AmazonEC2Config { ServiceURL = Ec2.BaseUri.ToString(), AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });

    protected override async Task StartFakesAsync()
    {
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        Ec2 = await FakeEc2Server.StartAsync(new FakeEc2Options
        {
            DataDirectory = FakeDataDirectory,
            DeviceRoot = DeviceRoot,
            DeleteDataOnDispose = true,
        });
        foreach (var host in Hosts)
        {
            Ec2.AddInstance(host.InstanceId, Zone);
            var imds = await FakeImdsServer.StartAsync(new FakeImdsOptions { InstanceId = host.InstanceId, AvailabilityZone = Zone });
            _imds.Add(imds);
            host.Imds = imds;
            host.Ec2 = Ec2.BaseUri;
        }
    }

    protected override async Task<IEnumerable<string>> StopFakesAsync()
    {
        var problems = new List<string>();
        if (Ec2 is not null)
        {
            problems.AddRange(Ec2.BackgroundErrors.Select(e => "fake EC2 background error: " + e.Message));
            await Ec2.DisposeAsync();
        }

        foreach (var imds in _imds)
        {
            await imds.DisposeAsync();
        }

        _ec2Client?.Dispose();
        return problems;
    }

    protected override IEnumerable<string> PluginSettings(EbsHost host) =>
    [
        "CSVOL_LOG_LEVEL=information", // calls that change state and every failure; the tail goes into failure messages
        "CSVOL_DISCOVERY_INTERVAL=1",
        "CSVOL_CLUSTER=" + Cluster,
        "CSVOL_EBS_IMDS_URL=" + host.Imds!.BaseUri.ToString().TrimEnd('/'),
        "CSVOL_EBS_ENDPOINT_URL=" + Ec2.BaseUri.ToString().TrimEnd('/'),
        "CSVOL_EBS_DEVICE_ROOT=" + DeviceRoot,
        "CSVOL_EBS_SYSFS_ROOT=" + DeviceRoot + "/sys",
        "AWS_REGION=us-east-1",
        "AWS_ACCESS_KEY_ID=AKIDFAKE",
        "AWS_SECRET_ACCESS_KEY=fake-secret",
        "AWS_EC2_METADATA_DISABLED=true",
    ];
}
