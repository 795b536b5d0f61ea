namespace Csvol.FakeCloud.AzureImds;

/// <summary>What the fake Azure IMDS says about "this" VM, and the managed identity token it hands out.</summary>
public sealed record FakeAzureImdsOptions
{
    public string SubscriptionId { get; init; } = "00000000-0000-4000-8000-00000000c5f0";

    public string ResourceGroupName { get; init; } = "csvol-rg";

    public string Name { get; init; } = "vm-a";

    public string Location { get; init; } = "westeurope";

    /// <summary>Empty for a VM in no zone, as IMDS reports it.</summary>
    public string Zone { get; init; } = "1";

    public string VmId { get; init; } = "5c6f1b3e-0000-4000-8000-00000000c5f0";

    public string VmSize { get; init; } = "Standard_D2s_v5";

    /// <summary>The managed identity token for any resource asked for.</summary>
    public string AccessToken { get; init; } = "fake-managed-identity-token";

    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(24);

    public string ResourceId =>
        $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroupName}/providers/Microsoft.Compute/virtualMachines/{Name}";
}
