using System.Text.Json.Serialization;

namespace Csvol.Volumes;

/// <summary>
/// Everything csvol knows about one volume; persisted as one JSON file. Instances are immutable:
/// a change is a new record, saved, then published.
/// </summary>
/// <remarks>
/// Version 2 added <see cref="Facts"/> and <see cref="BootId"/> and renamed <c>Provider</c> to <see cref="Backend"/>;
/// version 1 records still load (<see cref="Upgraded"/>).
/// </remarks>
internal sealed record VolumeRecord
{
    public const int CurrentVersion = 2;

    public int Version { get; init; } = CurrentVersion;

    public required string Name { get; init; }

    public string Backend { get; init; } = "";

    /// <summary>Version 1's name for <see cref="Backend"/>; read, never written.</summary>
    [JsonPropertyName("Provider")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LegacyBackend { get; init; }

    /// <summary>Options as normalised by the backend's option specs (sorted by key); never holds a secret.</summary>
    public required SortedDictionary<string, string> Options { get; init; }

    /// <summary>
    /// What the backend assigned at Create (a cloud volume id, an export path, a device), handed back on every later
    /// call. Empty for backends that need nothing.
    /// </summary>
    public SortedDictionary<string, string> Facts { get; init; } = NoFacts;

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Docker's mount IDs currently holding the volume on this host. First one mounts, last one unmounts.</summary>
    public string[] MountIds { get; init; } = [];

    /// <summary>
    /// The kernel's boot id when <see cref="MountIds"/> were recorded. Mount IDs do not survive a reboot (nothing is
    /// mounted after one and Docker never unmounts them), so start-up drops IDs from another boot.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BootId { get; init; }

    [JsonIgnore]
    public bool IsMounted => MountIds.Length > 0;

    public static readonly SortedDictionary<string, string> NoFacts = new(StringComparer.Ordinal);

    public VolumeRecord WithMountId(string id, string bootId) =>
        this with { MountIds = [.. MountIds.Append(id).Order(StringComparer.Ordinal)], BootId = bootId };

    public VolumeRecord WithoutMountId(string id) =>
        this with { MountIds = [.. MountIds.Where(m => m != id)] };

    /// <summary>An older version's record in today's shape (what is saved next time).</summary>
    /// <remarks>
    /// The JSON reader sets every init-only property, to null when the file lacks it, so only fields a version never
    /// wrote are filled in here; a null where the version did write a value is left for <see cref="Problem"/>.
    /// </remarks>
    public VolumeRecord Upgraded() => Version >= CurrentVersion && LegacyBackend is null
        ? this
        : this with
        {
            Version = CurrentVersion,
            Backend = string.IsNullOrEmpty(Backend) ? LegacyBackend ?? "" : Backend,
            LegacyBackend = null,
            Facts = Version < 2 ? Facts ?? NoFacts : Facts,
        };

    /// <summary>Null when every field is usable, otherwise what is wrong (JSON that parses can still hold nulls).</summary>
    public string? Problem(string expectedName)
    {
        if (Name != expectedName)
        {
            return $"it names volume \"{Name}\", not \"{expectedName}\"";
        }

        if (VolumeName.Check(Name) is { } badName)
        {
            return badName;
        }

        if (string.IsNullOrEmpty(Backend))
        {
            return "it names no backend";
        }

        if (Options is null || Options.Any(o => o.Value is null))
        {
            return "its Options are missing or hold a null value";
        }

        if (Facts is null || Facts.Any(f => f.Value is null))
        {
            return "its Facts are missing or hold a null value";
        }

        if (MountIds is null || MountIds.Any(string.IsNullOrEmpty))
        {
            return "its MountIds are missing or hold an empty ID";
        }

        return CreatedAt == default ? "it has no CreatedAt" : null;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(VolumeRecord))]
internal sealed partial class StateJsonContext : JsonSerializerContext
{
}
