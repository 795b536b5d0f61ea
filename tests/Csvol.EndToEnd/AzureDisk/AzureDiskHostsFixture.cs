using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using Azure.ResourceManager.Resources;
using Csvol.EndToEnd.Harness;
using Csvol.FakeCloud.Arm;
using Csvol.FakeCloud.AzureImds;

namespace Csvol.EndToEnd.AzureDisk;

/// <summary>
/// Two Azure VMs in one zone for <c>csvol/azuredisk</c> (<see cref="TwoHostRig{THost}"/>): one fake ARM over HTTPS
/// whose data-disk attachments are real loop devices, and a fake IMDS per VM, which also hands out its managed
/// identity's token (the fake ARM accepts only that token, so the plugins' production credential path is what runs).
/// </summary>
/// <remarks>
/// The plugin sees nothing of the host but its state directory and /dev, so the fake ARM's run CA goes where its VMs'
/// device roots are, under /dev (<see cref="CaFile"/>), and CSVOL_AZURE_ARM_CA_FILE names it: the plugin trusts that CA
/// alone for the fake's https://127.0.0.1 endpoint. Each VM's device root (links, fake sysfs) is its own directory
/// there; the kernel names in the fake sysfs are loopN, which the plugin opens as /dev/loopN (the host's).
/// </remarks>
public sealed class AzureDiskHostsFixture() : TwoHostRig<AzureDiskHost>(
    "azuredisk",
    new AzureDiskHost("A", "vm-a", new PrivateDockerd("az-a"), Path.Combine(RootDirectory, "state-a")),
    new AzureDiskHost("B", "vm-b", new PrivateDockerd("az-b"), Path.Combine(RootDirectory, "state-b")))
{
    public const string Cluster = "e2e";
    public const string Zone = "1";
    public const string ResourceGroup = "csvol-rg";
    public const string RootDirectory = "/var/lib/csvol-test/azuredisk-e2e";
    public const string DeviceDirectory = "/dev/csvol-e2e-az";

    private readonly List<FakeAzureImdsServer> _imds = [];
    private ArmClient? _armClient;

    public override string Root => RootDirectory;

    public override string DeviceRoot => DeviceDirectory;

    /// <summary>The fake ARM's CA certificate (PEM), inside the /dev the plugins see.</summary>
    public string CaFile => Path.Combine(DeviceRoot, "arm-ca.pem");

    public FakeArmServer Arm { get; private set; } = null!;

    /// <summary>The managed disks the fake ARM holds for csvol volume <paramref name="name"/> (by csvol's tags), as the SDK sees them.</summary>
    public async Task<IReadOnlyList<ManagedDiskData>> DisksNamedAsync(string name)
    {
        var disks = new List<ManagedDiskData>();
        await foreach (var disk in ArmClient.GetResourceGroupResource(ResourceGroupResource.CreateResourceIdentifier(Arm.SubscriptionId, ResourceGroup))
                           .GetManagedDisks().GetAllAsync())
        {
            if (disk.Data.Tags.TryGetValue("csvol-name", out var tagged) && tagged == name
                && disk.Data.Tags.TryGetValue("csvol-cluster", out var cluster) && cluster == Cluster)
            {
                disks.Add(disk.Data);
            }
        }

        return disks;
    }

    /// <summary>The one managed disk of <paramref name="name"/>; fails if there is none or more than one.</summary>
    public async Task<ManagedDiskData> DiskNamedAsync(string name) => Assert.Single(await DisksNamedAsync(name));

    /// <summary>The data-disk entries of <paramref name="host"/>'s VM.</summary>
    public async Task<IReadOnlyList<VirtualMachineDataDisk>> DataDisksOfAsync(AzureDiskHost host)
    {
        var vm = ArmClient.GetVirtualMachineResource(VirtualMachineResource.CreateResourceIdentifier(Arm.SubscriptionId, ResourceGroup, host.VmName));
        return [.. (await vm.GetAsync()).Value.Data.StorageProfile?.DataDisks ?? []];
    }

    /// <summary>Waits (bounded) until the fake says <paramref name="name"/>'s disk is attached nowhere (managedBy empty); returns it.</summary>
    public async Task<ManagedDiskData> AwaitDetachedAsync(string name, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var disk = await DiskNamedAsync(name);
            if (disk.ManagedBy is null && disk.DiskState == DiskState.Unattached)
            {
                return disk;
            }

            Assert.True(waited.Elapsed < timeout,
                $"Azure disk {disk.Name} of \"{name}\" is still {disk.DiskState} (managed by {disk.ManagedBy}) after {timeout.TotalSeconds:0} s");
            await Task.Delay(200);
        }
    }

    /// <summary>Running, stopped or deallocated, as the portal would do it (the fake removes a VM's devices while it does not run).</summary>
    public Task SetPowerStateAsync(AzureDiskHost host, FakeVmPowerState state) => Arm.SetPowerStateAsync(ResourceGroup, host.VmName, state);

    private ArmClient ArmClient => _armClient ??= NewArmClient();

    protected override async Task StartFakesAsync()
    {
        Arm = await FakeArmServer.StartAsync(new FakeArmOptions
        {
            DataDirectory = FakeDataDirectory,
            DeviceRoot = DeviceRoot,
            DeleteDataOnDispose = true,
        });
        Directory.CreateDirectory(DeviceRoot);
        await File.WriteAllTextAsync(CaFile, Arm.CertificateAuthorityPem);
        foreach (var host in Hosts)
        {
            _ = Arm.AddVirtualMachine(ResourceGroup, host.VmName, Zone, deviceRoot: Path.Combine(DeviceRoot, host.VmName));
            var imds = await FakeAzureImdsServer.StartAsync(new FakeAzureImdsOptions
            {
                SubscriptionId = Arm.SubscriptionId,
                ResourceGroupName = ResourceGroup,
                Name = host.VmName,
                Location = Arm.Options.Location,
                Zone = Zone,
                VmId = Arm.VmIdOf(ResourceGroup, host.VmName),
            });
            _imds.Add(imds);
            host.Imds = imds;
            host.Arm = Arm.BaseUri;
            host.DeviceRoot = Arm.DeviceRootOf(ResourceGroup, host.VmName);
        }

        // Only the managed identity token the fake IMDSs hand out (the same for both) opens the fake ARM.
        Arm.RequiredToken = _imds[0].Options.AccessToken;
    }

    protected override async Task<IEnumerable<string>> StopFakesAsync()
    {
        var problems = new List<string>();
        if (Arm is not null)
        {
            problems.AddRange(Arm.BackgroundErrors.Select(e => "fake ARM background error: " + e.Message));
            await Arm.DisposeAsync();
        }

        foreach (var imds in _imds)
        {
            await imds.DisposeAsync();
        }

        return problems;
    }

    protected override IEnumerable<string> PluginSettings(AzureDiskHost host) =>
    [
        "CSVOL_LOG_LEVEL=information", // calls that change state and every failure; the tail goes into failure messages
        "CSVOL_DISCOVERY_INTERVAL=1",
        "CSVOL_CLUSTER=" + Cluster,
        "CSVOL_AZURE_IMDS_URL=" + host.Imds!.BaseUri.ToString().TrimEnd('/'),
        "AZURE_POD_IDENTITY_AUTHORITY_HOST=" + host.Imds.BaseUri.ToString().TrimEnd('/'),
        "CSVOL_AZURE_ARM_URL=" + Arm.BaseUri.ToString().TrimEnd('/'),
        "CSVOL_AZURE_ARM_CA_FILE=" + CaFile,
        "CSVOL_AZURE_DEVICE_ROOT=" + host.DeviceRoot,
        "CSVOL_AZURE_SYSFS_ROOT=" + host.DeviceRoot + "/sys",
    ];

    /// <summary>The test's own view of the fake: the real SDK, the run CA pinned, its retries off so nothing hides a fault.</summary>
    private ArmClient NewArmClient()
    {
        var handler = new SocketsHttpHandler { UseProxy = false };
        handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            CustomTrustStore = { Arm.CertificateAuthority },
        };
        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(Arm.BaseUri, "https://management.azure.com"),
            Transport = new HttpClientTransport(handler),
        };
        options.Retry.MaxRetries = 0;
        return new ArmClient(new FixedToken(Arm.RequiredToken!), Arm.SubscriptionId, options);
    }

    private sealed class FixedToken(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new(token, DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
