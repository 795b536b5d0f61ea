using System.Globalization;
using System.Text.Json;
using Csvol.Volumes;

namespace Csvol.Protocol;

/// <summary>
/// Get and List answers, written from the volume records themselves: dockerd calls both often, and List of
/// 10,000 volumes would otherwise copy every record into a wire object and a date string first.
/// </summary>
/// <remarks>Shape: <c>{"Volume":{"Name","Mountpoint","CreatedAt","Status"}}</c> and <c>{"Volumes":[{"Name","Mountpoint","CreatedAt"}]}</c>.</remarks>
internal static class VolumeWire
{
    private const string CreatedAtFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    // Writing is synchronous, so one Status dictionary per thread serves every Get on it.
    [ThreadStatic]
    private static Dictionary<string, string>? t_status;

    public static void WriteGet(Utf8JsonWriter writer, VolumeService volumes, VolumeRecord record)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("Volume"u8);
        WriteVolume(writer, volumes, record, withStatus: true);
        writer.WriteEndObject();
    }

    public static void WriteList(Utf8JsonWriter writer, VolumeService volumes, ICollection<VolumeRecord> records)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("Volumes"u8);
        foreach (var record in records)
        {
            WriteVolume(writer, volumes, record, withStatus: false);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteVolume(Utf8JsonWriter writer, VolumeService volumes, VolumeRecord record, bool withStatus)
    {
        writer.WriteStartObject();
        writer.WriteString("Name"u8, record.Name);
        writer.WriteString("Mountpoint"u8, record.IsMounted ? volumes.MountpointOf(record.Name) : "");
        Span<byte> createdAt = stackalloc byte[32];
        record.CreatedAt.UtcDateTime.TryFormat(createdAt, out var written, CreatedAtFormat, CultureInfo.InvariantCulture);
        writer.WriteString("CreatedAt"u8, createdAt[..written]);
        if (withStatus)
        {
            var status = t_status ??= new Dictionary<string, string>(StringComparer.Ordinal);
            status.Clear();
            volumes.AddStatus(record, status);
            writer.WriteStartObject("Status"u8);
            foreach (var (key, value) in status)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            status.Clear();
        }

        writer.WriteEndObject();
    }
}
