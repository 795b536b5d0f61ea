using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Csvol.Tests.Support;

namespace Csvol.Tests.FakeCloud;

/// <summary>The real AWS SDK client pointed at a fake (or moto), with its own retries off so every fault is seen.</summary>
internal static class Ec2Clients
{
    public static AmazonEC2Client For(Uri serviceUrl)
    {
        // Without it, a config with no region makes the SDK ask IMDS (cloud-apis.md).
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        return new AmazonEC2Client(
            new BasicAWSCredentials("AKIDFAKE", "fake-secret"),
            new AmazonEC2Config { ServiceURL = serviceUrl.ToString(), AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
    }

    public static async Task<Volume> DescribeAsync(this AmazonEC2Client ec2, string volumeId) =>
        (await ec2.DescribeVolumesAsync(new DescribeVolumesRequest { VolumeIds = [volumeId] })).Volumes.Single();

    /// <summary>Waits until the volume reaches <paramref name="state"/> and, if given, its attachment <paramref name="attachment"/>.</summary>
    public static async Task<Volume> WaitForAsync(this AmazonEC2Client ec2, string volumeId, string state, string? attachment = null)
    {
        Volume? last = null;
        var reached = await Eventually.TrueAsync(async () =>
        {
            last = await ec2.DescribeAsync(volumeId);
            return last.State == state
                && (attachment is null ? (last.Attachments ?? []).Count == 0 : last.Attachments?.SingleOrDefault()?.State == attachment);
        });
        Assert.True(reached, $"{volumeId} stayed {last?.State} / {last?.Attachments?.SingleOrDefault()?.State}, expected {state} / {attachment}");
        return last!;
    }

    public static CreateVolumeRequest Request(int size, params (string Key, string Value)[] tags) => new()
    {
        AvailabilityZone = "us-east-1a",
        Size = size,
        VolumeType = VolumeType.Gp3,
        TagSpecifications = tags.Length == 0 ? null :
        [
            new TagSpecification { ResourceType = Amazon.EC2.ResourceType.Volume, Tags = [.. tags.Select(t => new Tag(t.Key, t.Value))] },
        ],
    };
}
