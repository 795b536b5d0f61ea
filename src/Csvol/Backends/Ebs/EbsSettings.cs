using System.Globalization;
using Csvol.Backends.Disks;
using System.Security.Cryptography;
using System.Text;

namespace Csvol.Backends.Ebs;

/// <summary>The EBS backend's settings, read from the same variables as csvol's own; a bad one stops start-up naming it.</summary>
internal sealed record EbsSettings
{
    public const string ClusterVariable = "CSVOL_CLUSTER";
    public const string ExtraTagsVariable = "CSVOL_EXTRA_TAGS";
    public const string ImdsUrlVariable = "CSVOL_EBS_IMDS_URL";
    public const string EndpointVariable = "CSVOL_EBS_ENDPOINT_URL";
    public const string DeviceRootVariable = "CSVOL_EBS_DEVICE_ROOT";
    public const string SysfsRootVariable = "CSVOL_EBS_SYSFS_ROOT";
    public const string AttachTimeoutVariable = "CSVOL_EBS_ATTACH_TIMEOUT";

    public string Cluster { get; init; } = "default";

    public IReadOnlyList<KeyValuePair<string, string>> ExtraTags { get; init; } = [];

    public Uri ImdsUrl { get; init; } = new("http://169.254.169.254");

    /// <summary><c>CSVOL_EBS_ENDPOINT_URL</c>, else <c>AWS_ENDPOINT_URL</c>; null for EC2's own endpoint of the region.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary><c>AWS_REGION</c>; null to ask IMDS.</summary>
    public string? Region { get; init; }

    public string? AccessKeyId { get; init; }

    public string? SecretAccessKey { get; init; }

    public string? SessionToken { get; init; }

    public string DeviceRoot { get; init; } = "/dev";

    public string SysfsRoot { get; init; } = "/sys";

    /// <summary>How long an attach or a detach may take before csvol undoes it (attach) or gives up waiting (detach).</summary>
    public TimeSpan AttachTimeout { get; init; } = TimeSpan.FromSeconds(90);

    public static EbsSettings From(IConfiguration configuration)
    {
        string? Value(string key) => SettingText.Value(configuration, key);

        return new EbsSettings
        {
            Cluster = SettingText.Cluster(ClusterVariable, Value(ClusterVariable), EbsOptions.MaxTagValue),
            ExtraTags = DiskTags.FromSetting(ExtraTagsVariable, Value(ExtraTagsVariable), EbsOptions.TagRules),
            ImdsUrl = SettingText.Url(ImdsUrlVariable, Value(ImdsUrlVariable)) ?? new Uri("http://169.254.169.254"),
            Endpoint = SettingText.Url(EndpointVariable, Value(EndpointVariable)) ?? SettingText.Url("AWS_ENDPOINT_URL", Value("AWS_ENDPOINT_URL")),
            Region = Value("AWS_REGION") ?? Value("AWS_DEFAULT_REGION"),
            AccessKeyId = Value("AWS_ACCESS_KEY_ID"),
            SecretAccessKey = Value("AWS_SECRET_ACCESS_KEY"),
            SessionToken = Value("AWS_SESSION_TOKEN"),
            DeviceRoot = SettingText.AbsolutePath(DeviceRootVariable, Value(DeviceRootVariable)) ?? "/dev",
            SysfsRoot = SettingText.AbsolutePath(SysfsRootVariable, Value(SysfsRootVariable)) ?? "/sys",
            AttachTimeout = SettingText.Seconds(AttachTimeoutVariable, Value(AttachTimeoutVariable), 1, 3600) ?? TimeSpan.FromSeconds(90),
        };
    }

    /// <summary>
    /// CreateVolume's idempotency token: the same volume name in the same cluster always asks for the same volume.
    /// <paramref name="generation"/> counts earlier volumes of the name, since deleted (EC2 refuses their tokens).
    /// </summary>
    public string ClientToken(string name, int generation = 0) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Cluster + "/" + name + (generation == 0 ? "" : "/" + generation.ToString(CultureInfo.InvariantCulture)))))[..64];
}
