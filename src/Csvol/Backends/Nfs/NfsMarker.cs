using System.Text.Json;
using System.Text.Json.Serialization;

namespace Csvol.Backends.Nfs;

/// <summary>
/// What csvol keeps on the export about one volume, in <c>&lt;share&gt;/.csvol/&lt;volume&gt;.json</c>: beside the
/// subdirectory rather than in it, so no container can delete or forge it. Every host lists volumes from these files,
/// and Remove deletes a subdirectory only when its marker says csvol made it.
/// </summary>
internal sealed record NfsMarker
{
    public const int CurrentVersion = 1;

    /// <summary>The directory in the share that holds the markers (and <see cref="TrashDirectory"/>).</summary>
    public const string Directory = ".csvol";

    /// <summary>Subdirectories of removed volumes wait here until they are deleted (see <see cref="NfsBackend.PurgeAsync"/>).</summary>
    public const string TrashDirectory = "trash";

    public int Version { get; init; } = CurrentVersion;

    public required string Volume { get; init; }

    public required string Subdir { get; init; }

    /// <summary>True when csvol created the subdirectory (Remove deletes it); false when it existed and was adopted (Remove keeps it).</summary>
    public required bool Made { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The host whose csvol wrote the marker, for people reading it.</summary>
    public string Host { get; init; } = "";

    /// <summary>The volume's normalised options, so that every host compares a Create with the same set.</summary>
    public required SortedDictionary<string, string> Options { get; init; }

    public static string FileName(string volume) => volume + ".json";

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, NfsJsonContext.Default.NfsMarker);

    /// <summary>The marker in <paramref name="bytes"/>; null when it is not one csvol can read (damaged, or from a newer csvol).</summary>
    public static NfsMarker? Parse(ReadOnlySpan<byte> bytes)
    {
        try
        {
            var marker = JsonSerializer.Deserialize(bytes, NfsJsonContext.Default.NfsMarker);
            return marker is { Version: CurrentVersion, Volume.Length: > 0, Subdir.Length: > 0, Options: not null }
                && marker.Options.Values.All(v => v is not null)
                ? marker
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(NfsMarker))]
internal sealed partial class NfsJsonContext : JsonSerializerContext
{
}
