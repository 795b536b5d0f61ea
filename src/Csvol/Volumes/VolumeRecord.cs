using System.Text.Json.Serialization;

namespace Csvol.Volumes;

/// <summary>
/// Everything csvol knows about one volume; persisted as one JSON file. Instances are immutable:
/// a change is a new record, saved durably, then published.
/// </summary>
internal sealed record VolumeRecord
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    public required string Name { get; init; }

    public required string Backend { get; init; }

    /// <summary>Options as normalised by the backend's option specs (sorted by key).</summary>
    public required SortedDictionary<string, string> Options { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Docker's mount IDs currently holding the volume. First one mounts, last one unmounts.</summary>
    public string[] MountIds { get; init; } = [];

    public bool IsMounted => MountIds.Length > 0;

    public VolumeRecord WithMountId(string id) =>
        this with { MountIds = [.. MountIds.Append(id).Order(StringComparer.Ordinal)] };

    public VolumeRecord WithoutMountId(string id) =>
        this with { MountIds = [.. MountIds.Where(m => m != id)] };
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(VolumeRecord))]
internal sealed partial class StateJsonContext : JsonSerializerContext
{
}
