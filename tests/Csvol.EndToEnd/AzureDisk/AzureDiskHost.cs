using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.AzureImds;

namespace Csvol.EndToEnd.AzureDisk;

/// <summary>One Azure "VM" of the two-host rig: <c>csvol/azuredisk</c> on a private dockerd, with its own fake IMDS (its VM name, and its managed identity's token).</summary>
public sealed class AzureDiskHost(string label, string vmName, PrivateDockerd docker, string stateDirectory)
    : PluginHost(label, PluginName, docker, stateDirectory)
{
    public const string PluginName = "csvol/azuredisk";

    public string VmName { get; } = vmName;

    public FakeAzureImdsServer? Imds { get; set; }

    /// <summary>Set once the fake ARM runs: with the IMDS, what the plugin talks to.</summary>
    public Uri? Arm { get; set; }

    /// <summary>Where this VM's <c>disk/azure/scsi1/lun&lt;N&gt;</c> links and fake sysfs are, inside the /dev the plugin sees.</summary>
    public string? DeviceRoot { get; set; }

    public override IEnumerable<Uri> Endpoints => [Arm!, Imds!.BaseUri];
}
