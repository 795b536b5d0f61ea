using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Csvol.Bench;

/// <summary>Every mode's result: one JSON object on one line of stdout.</summary>
internal static class JsonLine
{
    // first_error and activate_body quote the plugin: keep its quotes readable rather than \u0022.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Write(Action<Utf8JsonWriter> members)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            members(writer);
            writer.WriteEndObject();
        }

        // The raw stream, not Console.Out: alloc points Console.Out at stderr so the plugin's log stays off stdout.
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(buffer.WrittenSpan);
        stdout.Write("\n"u8);
    }

    public static double Round(double value, int digits) => Math.Round(value, digits, MidpointRounding.AwayFromZero);
}
