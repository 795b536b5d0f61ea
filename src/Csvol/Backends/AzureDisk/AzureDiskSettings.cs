using System.Security.Cryptography.X509Certificates;
using Csvol.Backends.Disks;

namespace Csvol.Backends.AzureDisk;

/// <summary>The Azure disk backend's settings, read from the same variables as csvol's own; a bad one stops start-up naming it.</summary>
internal sealed record AzureDiskSettings
{
    public const string ClusterVariable = "CSVOL_CLUSTER";
    public const string ExtraTagsVariable = "CSVOL_EXTRA_TAGS";
    public const string ImdsUrlVariable = "CSVOL_AZURE_IMDS_URL";
    public const string ArmUrlVariable = "CSVOL_AZURE_ARM_URL";
    public const string ArmCaFileVariable = "CSVOL_AZURE_ARM_CA_FILE";
    public const string DeviceRootVariable = "CSVOL_AZURE_DEVICE_ROOT";
    public const string SysfsRootVariable = "CSVOL_AZURE_SYSFS_ROOT";
    public const string AttachTimeoutVariable = "CSVOL_AZURE_ATTACH_TIMEOUT";
    public const string SubscriptionVariable = "AZURE_SUBSCRIPTION_ID";
    public const string ResourceGroupVariable = "AZURE_RESOURCE_GROUP";

    public string Cluster { get; init; } = "default";

    public IReadOnlyList<KeyValuePair<string, string>> ExtraTags { get; init; } = [];

    /// <summary>Azure's instance metadata service (the VM's identity; tokens come from Azure.Identity).</summary>
    public Uri ImdsUrl { get; init; } = new("http://169.254.169.254");

    /// <summary>Azure Resource Manager.</summary>
    public Uri ArmUrl { get; init; } = new("https://management.azure.com");

    /// <summary>When set, the only CA trusted for <see cref="ArmUrl"/> (a private endpoint, a test ARM).</summary>
    public X509Certificate2? ArmCertificateAuthority { get; init; }

    /// <summary>Null: the VM's own, from IMDS.</summary>
    public string? SubscriptionId { get; init; }

    /// <summary>Null: the VM's own, from IMDS.</summary>
    public string? ResourceGroup { get; init; }

    public string? TenantId { get; init; }

    public string? ClientId { get; init; }

    public string? ClientSecret { get; init; }

    public string DeviceRoot { get; init; } = "/dev";

    public string SysfsRoot { get; init; } = "/sys";

    /// <summary>How long an attach or detach (a VM update) may take.</summary>
    public TimeSpan AttachTimeout { get; init; } = TimeSpan.FromSeconds(180);

    public static AzureDiskSettings From(IConfiguration configuration)
    {
        string? Value(string key) => SettingText.Value(configuration, key);

        var caFile = SettingText.AbsolutePath(ArmCaFileVariable, Value(ArmCaFileVariable));
        return new AzureDiskSettings
        {
            Cluster = SettingText.Cluster(ClusterVariable, Value(ClusterVariable), AzureDiskOptions.MaxTagValue),
            ExtraTags = DiskTags.FromSetting(ExtraTagsVariable, Value(ExtraTagsVariable), AzureDiskOptions.TagRules),
            ImdsUrl = SettingText.Url(ImdsUrlVariable, Value(ImdsUrlVariable)) ?? new Uri("http://169.254.169.254"),
            ArmUrl = SettingText.Url(ArmUrlVariable, Value(ArmUrlVariable), "https") ?? new Uri("https://management.azure.com"),
            ArmCertificateAuthority = caFile is null ? null : LoadCertificateAuthority(caFile),
            SubscriptionId = Value(SubscriptionVariable),
            ResourceGroup = Value(ResourceGroupVariable),
            TenantId = Value("AZURE_TENANT_ID"),
            ClientId = Value("AZURE_CLIENT_ID"),
            ClientSecret = Value("AZURE_CLIENT_SECRET"),
            DeviceRoot = SettingText.AbsolutePath(DeviceRootVariable, Value(DeviceRootVariable)) ?? "/dev",
            SysfsRoot = SettingText.AbsolutePath(SysfsRootVariable, Value(SysfsRootVariable)) ?? "/sys",
            AttachTimeout = SettingText.Seconds(AttachTimeoutVariable, Value(AttachTimeoutVariable), 1, 3600) ?? TimeSpan.FromSeconds(180),
        };
    }

    private static X509Certificate2 LoadCertificateAuthority(string file)
    {
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(file));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new InvalidOperationException($"{ArmCaFileVariable} must name a readable PEM certificate: {file}: {ex.Message}", ex);
        }
    }
}
