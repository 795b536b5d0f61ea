using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Resources;
using Csvol.Backends.AzureDisk;
using Csvol.FakeCloud.Arm;
using Csvol.FakeCloud.AzureImds;
using Csvol.Hosting;
using Csvol.Tests.FakeCloud;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.AzureDisk;

/// <summary>
/// csvol/azuredisk as the shipped Native AOT binary (the Azure SDK is not annotated for AOT, so only the real binary
/// proves its calls work there), killed with SIGKILL while an attach is in flight and started again.
/// </summary>
public sealed class AzureDiskProcessTests
{
    [Fact]
    public async Task Mount_PluginKilledMidAttach_RestartConvergesOneDiskOneAttachmentNoOrphan()
    {
        Root.Require();
        using var dir = new TempDir();
        await using (var arm = await FakeArmServer.StartAsync(new FakeArmOptions { DataDirectory = dir.Sub("data"), DeviceRoot = dir.Sub("dev"), DeleteDataOnDispose = true }))
        await using (var imds = await FakeAzureImdsServer.StartAsync(new FakeAzureImdsOptions { SubscriptionId = arm.SubscriptionId, Name = "vm-a", Zone = "1" }))
        {
            _ = arm.AddVirtualMachine(imds.Options.ResourceGroupName, "vm-a", "1");
            arm.RequiredToken = imds.Options.AccessToken;
            await File.WriteAllTextAsync(dir.Sub("ca.pem"), arm.CertificateAuthorityPem);
            var deviceRoot = arm.DeviceRootOf(imds.Options.ResourceGroupName, "vm-a")!;
            var environment = CsvolProcess.EnvironmentFor(dir);
            environment[CsvolSettings.BackendVariable] = AzureDiskBackend.BackendName;
            environment[CsvolSettings.CallDeadlineVariable] = "3";
            environment[AzureDiskSettings.ImdsUrlVariable] = imds.BaseUri.ToString();
            environment[AzureDiskSettings.ArmUrlVariable] = arm.BaseUri.ToString();
            environment[AzureDiskSettings.ArmCaFileVariable] = dir.Sub("ca.pem");
            environment[AzureDiskSettings.DeviceRootVariable] = deviceRoot;
            environment[AzureDiskSettings.SysfsRootVariable] = Path.Combine(deviceRoot, "sys");
            environment["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = imds.BaseUri.ToString().TrimEnd('/');
            var arms = ArmClients.For(arm.BaseUri, arm.SubscriptionId, arm.CertificateAuthority, new AzureRig.FixedToken(imds.Options.AccessToken));
            var vm = arms.GetVirtualMachineResource(new Azure.Core.ResourceIdentifier(imds.Options.ResourceId));

            using (var first = CsvolProcess.Start(environment, AzureDiskBackend.BackendName))
            {
                using var client = await first.WaitUntilReadyAsync(dir.Sub("csvol.sock"));
                (await client.CallAsync("/VolumeDriver.Create", new { Name = "k1", Opts = new { size = "1" } })).AssertOk();
                arm.StickOperations();
                var mount = client.CallAsync("/VolumeDriver.Mount", new { Name = "k1", ID = "c1" });
                var inFlight = await Eventually.TrueAsync(async () => (await vm.GetAsync()).Value.Data.StorageProfile.DataDisks.Count == 1);
                first.Kill9();
                _ = await Record.ExceptionAsync(() => mount);
                Assert.True(inFlight, "the attach never reached the fake ARM");
            }

            arm.ReleaseOperations();
            using (var second = CsvolProcess.Start(environment, AzureDiskBackend.BackendName))
            {
                using var client = await second.WaitUntilReadyAsync(dir.Sub("csvol.sock"));
                var mounted = await Eventually.TrueAsync(async () => (await client.CallAsync("/VolumeDriver.Mount", new { Name = "k1", ID = "c1" })).Err is null);
                var mountpoint = (await client.CallAsync("/VolumeDriver.Path", new { Name = "k1" })).AssertOk().Json.GetProperty("Mountpoint").GetString()!;
                await File.WriteAllTextAsync(Path.Combine(mountpoint, "after-restart"), "ok");
                var attached = (await vm.GetAsync()).Value.Data.StorageProfile.DataDisks.ToList();
                var disks = new List<ManagedDiskResource>();
                await foreach (var disk in arms.GetResourceGroupResource(ResourceGroupResource.CreateResourceIdentifier(arm.SubscriptionId, imds.Options.ResourceGroupName))
                    .GetManagedDisks().GetAllAsync())
                {
                    disks.Add(disk);
                }

                (await client.CallAsync("/VolumeDriver.Unmount", new { Name = "k1", ID = "c1" })).AssertOk();
                var afterUnmount = (await vm.GetAsync()).Value.Data.StorageProfile.DataDisks.Count;
                (await client.CallAsync("/VolumeDriver.Remove", new { Name = "k1" })).AssertOk();

                Assert.True(mounted, "the restarted plugin never mounted the volume: " + second.Output);
                Assert.Equal(0, Assert.Single(attached).Lun);
                Assert.Single(disks);
                Assert.Equal(0, afterUnmount);
            }

            Assert.Empty(TempDir.MountsUnder(dir.Path));
        }

        Assert.Empty(await FakeEc2ServerTests.LoopsBackedBy(dir.Path));
    }
}
