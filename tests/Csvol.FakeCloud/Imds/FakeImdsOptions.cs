namespace Csvol.FakeCloud.Imds;

/// <summary>What the fake instance metadata service says about "this" instance.</summary>
public sealed record FakeImdsOptions
{
    public string InstanceId { get; init; } = "i-0fake00000000000a";

    public string AvailabilityZone { get; init; } = "us-east-1a";

    /// <summary>The zone without its letter, as EC2 derives it (<c>us-east-1a</c> → <c>us-east-1</c>).</summary>
    public string Region => AvailabilityZone.TrimEnd('a', 'b', 'c', 'd', 'e', 'f');
}
