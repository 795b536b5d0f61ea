using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.Imds;

namespace Csvol.EndToEnd.Ebs;

/// <summary>One "EC2 instance" of the two-host rig: <c>csvol/ebs</c> on a private dockerd, with its own fake IMDS (its instance id).</summary>
public sealed class EbsHost(string label, string instanceId, PrivateDockerd docker, string stateDirectory)
    : PluginHost(label, PluginName, docker, stateDirectory)
{
    public const string PluginName = "csvol/ebs";

    public string InstanceId { get; } = instanceId;

    public FakeImdsServer? Imds { get; set; }

    /// <summary>Set once the fake EC2 runs: with the IMDS, what the plugin talks to.</summary>
    public Uri? Ec2 { get; set; }

    public override IEnumerable<Uri> Endpoints => [Ec2!, Imds!.BaseUri];
}
