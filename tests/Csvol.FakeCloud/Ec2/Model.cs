namespace Csvol.FakeCloud.Ec2;

/// <summary>Mutable state of one volume; only touched under the cloud's lock.</summary>
internal sealed class FakeVolume
{
    public required string Id { get; init; }

    public required string AvailabilityZone { get; init; }

    public required DateTimeOffset CreateTime { get; init; }

    public int Size { get; set; }

    public string VolumeType { get; set; } = "gp2";

    public int? Iops { get; set; }

    public int? Throughput { get; set; }

    public bool Encrypted { get; init; }

    public string? KmsKeyId { get; init; }

    public string? SnapshotId { get; init; }

    public string State { get; set; } = "creating";

    public Dictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);

    public FakeAttachment? Attachment { get; set; }

    /// <summary>The CreateVolume parameters as one string, compared when a ClientToken repeats.</summary>
    public required string Request { get; init; }
}

internal sealed class FakeAttachment
{
    public required string InstanceId { get; init; }

    public required string Device { get; init; }

    public required DateTimeOffset AttachTime { get; init; }

    public string State { get; set; } = "attaching";

    /// <summary>The loop device backing the volume while attached (null without block devices).</summary>
    public string? LoopDevice { get; set; }
}

internal sealed class FakeInstance
{
    public required string Id { get; init; }

    public required string AvailabilityZone { get; init; }

    public FakeInstanceState State { get; set; }
}

internal sealed class FakeSnapshot
{
    public required string Id { get; init; }

    public required string VolumeId { get; init; }

    public required int VolumeSize { get; init; }

    public required DateTimeOffset StartTime { get; init; }

    public string? Description { get; init; }

    public bool Encrypted { get; init; }

    public string State { get; set; } = "pending";

    public Dictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);
}
