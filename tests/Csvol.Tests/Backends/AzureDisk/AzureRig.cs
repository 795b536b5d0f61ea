using Csvol.Backends.AzureDisk;
using Csvol.FakeCloud.Arm;
using Csvol.FakeCloud.AzureImds;
using Csvol.Hosting;
using Csvol.Linux;
using Csvol.Tests.FakeCloud;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.AzureDisk;

/// <summary>
/// Two "hosts" (real plugins with CSVOL_BACKEND=azuredisk, each with its own fake Azure IMDS naming its own VM) sharing
/// one fake ARM over HTTPS (its run CA pinned through CSVOL_AZURE_ARM_CA_FILE), whose attachments are real loop devices
/// under each VM's own device root. Tokens come from Azure.Identity's managed identity, pointed at host A's fake IMDS.
/// </summary>
internal sealed class AzureRig : IAsyncDisposable
{
    public const string ResourceGroup = "csvol-rg";
    public const string VmA = "vm-a";
    public const string VmB = "vm-b";
    private const string TokenHostVariable = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
    private readonly List<PluginHost> _hosts = [];
    private readonly List<FakeAzureImdsServer> _imds = [];

    private AzureRig(TempDir dir, FakeArmServer arm)
    {
        Dir = dir;
        Arm = arm;
    }

    public TempDir Dir { get; }

    public FakeArmServer Arm { get; }

    public PluginHost A => _hosts[0];

    public PluginHost B => _hosts[1];

    /// <param name="variables">More settings for both hosts.</param>
    /// <param name="zone">The zone of both VMs ("" for none).</param>
    public static async Task<AzureRig> StartAsync(IReadOnlyDictionary<string, string?>? variables = null, string zone = "1")
    {
        Root.Require();
        var dir = new TempDir();
        var arm = await FakeArmServer.StartAsync(new FakeArmOptions
        {
            DataDirectory = dir.Sub("data"),
            DeviceRoot = dir.Sub("dev"),
            DeleteDataOnDispose = true,
        });
        var rig = new AzureRig(dir, arm);
        var caFile = dir.Sub("arm-ca.pem");
        await File.WriteAllTextAsync(caFile, arm.CertificateAuthorityPem);
        foreach (var vm in new[] { VmA, VmB })
        {
            _ = arm.AddVirtualMachine(ResourceGroup, vm, zone.Length == 0 ? null : zone);
            var imds = await FakeAzureImdsServer.StartAsync(new FakeAzureImdsOptions
            {
                SubscriptionId = arm.SubscriptionId,
                ResourceGroupName = ResourceGroup,
                Name = vm,
                Location = arm.Options.Location,
                Zone = zone,
            });
            rig._imds.Add(imds);
            if (vm == VmA)
            {
                // Azure.Identity reads it once per process, at its first token; both fake IMDS hand out the same token.
                Environment.SetEnvironmentVariable(TokenHostVariable, imds.BaseUri.ToString().TrimEnd('/'));
                arm.RequiredToken = imds.Options.AccessToken;
            }

            var deviceRoot = arm.DeviceRootOf(ResourceGroup, vm)!;
            var settings = new Dictionary<string, string?>(variables ?? new Dictionary<string, string?>())
            {
                [CsvolSettings.BackendVariable] = AzureDiskBackend.BackendName,
                [CsvolSettings.DiscoveryIntervalVariable] = "1",
                [AzureDiskSettings.ImdsUrlVariable] = imds.BaseUri.ToString(),
                [AzureDiskSettings.ArmUrlVariable] = arm.BaseUri.ToString(),
                [AzureDiskSettings.ArmCaFileVariable] = caFile,
                [AzureDiskSettings.DeviceRootVariable] = deviceRoot,
                [AzureDiskSettings.SysfsRootVariable] = Path.Combine(deviceRoot, "sys"),
                [AzureDiskSettings.ClusterVariable] = "test",
            };
            rig._hosts.Add(await PluginHost.StartAsync(variables: settings));
        }

        return rig;
    }

    /// <summary>A client of the fake ARM for the test's own looks, with the token the plugins get from the managed identity.</summary>
    public Azure.ResourceManager.ArmClient Client() =>
        ArmClients.For(Arm.BaseUri, Arm.SubscriptionId, Arm.CertificateAuthority, new FixedToken(Arm.RequiredToken!));

    /// <summary>The fake's data file of the disk whose ARM uniqueId is <paramref name="uniqueId"/>.</summary>
    public string DataFileOf(string uniqueId) => Dir.Sub("data", uniqueId + ".img");

    internal sealed class FixedToken(string token) : Azure.Core.TokenCredential
    {
        public override Azure.Core.AccessToken GetToken(Azure.Core.TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<Azure.Core.AccessToken> GetTokenAsync(Azure.Core.TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }

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

        await Arm.DisposeAsync();
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
        Assert.Empty(Arm.BackgroundErrors);
        Dir.Dispose();
    }
}
