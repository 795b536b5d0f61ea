using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Csvol.Volumes;

namespace Csvol.Protocol;

/// <summary>
/// Get and List answers, written from the volume records themselves: dockerd calls both often, and List of
/// 10,000 volumes would otherwise copy every record into a wire object and a date string first.
/// </summary>
/// <remarks>Shape: <c>{"Volume":{"Name","Mountpoint","CreatedAt","Status"}}</c> and <c>{"Volumes":[{"Name","Mountpoint","CreatedAt"}]}</c>.</remarks>
internal sealed class VolumeWire
{
    /// <summary>List entries up to this long are formatted on the stack; longer ones (a long mount root) in a rented buffer.</summary>
    private const int MaxStackEntry = 1024;

    /// <summary><c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, UTC.</summary>
    private const int CreatedAtLength = 24;

    /// <summary>A List entry without its name, mountpoint prefix and name again.</summary>
    private static readonly int FixedEntryLength =
        "{\"Name\":\""u8.Length + "\",\"Mountpoint\":\""u8.Length + "\",\"CreatedAt\":\""u8.Length + CreatedAtLength + "\"}"u8.Length;

    private readonly string _driverName;
    private readonly Func<string, string> _mountpointOf;
    private readonly Action<VolumeRecord, IDictionary<string, string>> _addBackendStatus;

    /// <summary>What every mountpoint starts with (the mount root and a '/'), as JSON string content, escaped once.</summary>
    private readonly byte[] _mountpointPrefixJson;

    /// <summary>The longest List entry a valid name can make under this mount root.</summary>
    private readonly int _longestEntry;

    private ListAnswer? _list;

    // Writing is synchronous, so one Status dictionary per thread serves every Get on it.
    [ThreadStatic]
    private static Dictionary<string, string>? t_status;

    /// <param name="driverName">Status "driver", e.g. <c>csvol/local</c>.</param>
    /// <param name="mountpointOf">Where a volume of a given name is mounted: the mount root joined with the name.</param>
    /// <param name="addBackendStatus">The backend's facts for Status; cheap, no I/O.</param>
    public VolumeWire(string driverName, Func<string, string> mountpointOf, Action<VolumeRecord, IDictionary<string, string>> addBackendStatus)
    {
        _driverName = driverName;
        _mountpointOf = mountpointOf;
        _addBackendStatus = addBackendStatus;
        _mountpointPrefixJson = JsonEncodedText.Encode(mountpointOf("x")[..^1], PluginCall.WriterOptions.Encoder).EncodedUtf8Bytes.ToArray();
        _longestEntry = FixedEntryLength + (2 * VolumeName.MaxLength) + _mountpointPrefixJson.Length;
    }

    public void WriteGet(Utf8JsonWriter writer, VolumeRecord record)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("Volume"u8);
        WriteVolume(writer, record, withStatus: true);
        writer.WriteEndObject();
    }

    /// <summary>
    /// The whole List answer, rendered again only after a volume changed. dockerd lists on every <c>docker volume ls</c>
    /// and more; rendering 10,000 records was ~9 ms, nearly all of it cache misses on records spread over the heap.
    /// </summary>
    /// <param name="version">The volumes' version, read before <paramref name="records"/>.</param>
    /// <param name="records">Every volume.</param>
    /// <param name="currentVersion">The version now: a change that landed while rendering means the answer is not kept.</param>
    public ReadOnlyMemory<byte> ListJson(long version, IEnumerable<VolumeRecord> records, Func<long> currentVersion)
    {
        if (_list is { } kept && kept.Version == version)
        {
            return kept.Json;
        }

        var buffer = new ArrayBufferWriter<byte>((_list?.Json.Length ?? 0) + 4096);
        using (var writer = new Utf8JsonWriter(buffer, PluginCall.WriterOptions))
        {
            WriteList(writer, records);
        }

        if (currentVersion() == version)
        {
            _list = new ListAnswer(version, buffer.WrittenMemory);
        }

        return buffer.WrittenMemory;
    }

    public void WriteList(Utf8JsonWriter writer, IEnumerable<VolumeRecord> records)
    {
        byte[]? rented = null;
        var entry = _longestEntry <= MaxStackEntry
            ? stackalloc byte[MaxStackEntry]
            : (rented = ArrayPool<byte>.Shared.Rent(_longestEntry));
        try
        {
            writer.WriteStartObject();
            writer.WriteStartArray("Volumes"u8);
            foreach (var record in records)
            {
                if (TryFormatListEntry(record, entry, out var length))
                {
                    writer.WriteRawValue(entry[..length], skipInputValidation: true);
                }
                else
                {
                    WriteVolume(writer, record, withStatus: false);
                }
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private void WriteVolume(Utf8JsonWriter writer, VolumeRecord record, bool withStatus)
    {
        writer.WriteStartObject();
        writer.WriteString("Name"u8, record.Name);
        writer.WriteString("Mountpoint"u8, record.IsMounted ? _mountpointOf(record.Name) : "");
        Span<byte> createdAt = stackalloc byte[CreatedAtLength];
        FormatCreatedAt(record.CreatedAt.UtcDateTime, createdAt);
        writer.WriteString("CreatedAt"u8, createdAt);
        if (withStatus)
        {
            var status = t_status ??= new Dictionary<string, string>(StringComparer.Ordinal);
            status.Clear();
            status["driver"] = _driverName;
            status["mounts"] = record.MountIds.Length.ToString(CultureInfo.InvariantCulture);
            _addBackendStatus(record, status);
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

    /// <summary>
    /// One List entry, <c>{"Name":..,"Mountpoint":..,"CreatedAt":..}</c>, by plain copying: a name that passes Docker's
    /// rule is ASCII that JSON never escapes, and the mount root was escaped once (List of 10,000 before it was kept:
    /// ~9.9 -> ~9.3 ms on a busy machine).
    /// Any other name (a record edited by hand) takes the escaping writer.
    /// </summary>
    private bool TryFormatListEntry(VolumeRecord record, Span<byte> into, out int length)
    {
        length = 0;
        var name = record.Name;
        if (VolumeName.Check(name) is not null)
        {
            return false;
        }

        var needed = FixedEntryLength + name.Length + (record.IsMounted ? _mountpointPrefixJson.Length + name.Length : 0);
        if (needed > into.Length)
        {
            return false;
        }

        var at = 0;
        Append(into, ref at, "{\"Name\":\""u8);
        at += Encoding.ASCII.GetBytes(name, into[at..]);
        Append(into, ref at, "\",\"Mountpoint\":\""u8);
        if (record.IsMounted)
        {
            Append(into, ref at, _mountpointPrefixJson);
            at += Encoding.ASCII.GetBytes(name, into[at..]);
        }

        Append(into, ref at, "\",\"CreatedAt\":\""u8);
        FormatCreatedAt(record.CreatedAt.UtcDateTime, into.Slice(at, CreatedAtLength));
        at += CreatedAtLength;
        Append(into, ref at, "\"}"u8);
        length = at;
        return true;
    }

    private static void Append(Span<byte> into, ref int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(into[at..]);
        at += bytes.Length;
    }

    /// <summary>
    /// CreatedAt as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, digit by digit: the custom format string was parsed again for every
    /// volume and was a fifth of a List of 10,000.
    /// </summary>
    internal static void FormatCreatedAt(DateTime utc, Span<byte> into)
    {
        Digits(into[..4], utc.Year);
        into[4] = (byte)'-';
        Digits(into.Slice(5, 2), utc.Month);
        into[7] = (byte)'-';
        Digits(into.Slice(8, 2), utc.Day);
        into[10] = (byte)'T';
        Digits(into.Slice(11, 2), utc.Hour);
        into[13] = (byte)':';
        Digits(into.Slice(14, 2), utc.Minute);
        into[16] = (byte)':';
        Digits(into.Slice(17, 2), utc.Second);
        into[19] = (byte)'.';
        Digits(into.Slice(20, 3), utc.Millisecond);
        into[23] = (byte)'Z';
    }

    private static void Digits(Span<byte> into, int value)
    {
        for (var i = into.Length - 1; i >= 0; i--)
        {
            into[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    private sealed record ListAnswer(long Version, ReadOnlyMemory<byte> Json);
}
