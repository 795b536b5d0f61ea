using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Csvol.Protocol;

/// <summary>Reads one bounded JSON request body. Docker sends no Content-Type, so none is required.</summary>
internal static class RequestBody
{
    /// <summary>Far above any real request (a Create with dozens of options is a few hundred bytes).</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>
    /// How much of a too-large body is read and dropped before the 413, so that the caller has finished sending
    /// and reads the Err instead of a reset connection. Beyond this Kestrel cuts the connection.
    /// </summary>
    public const int DrainBytes = 1024 * 1024;

    public static async ValueTask<T?> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        if (request.ContentLength > MaxBytes)
        {
            await DrainAsync(request.BodyReader, cancellationToken).ConfigureAwait(false);
            throw TooLarge();
        }

        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length > MaxBytes)
            {
                reader.AdvanceTo(buffer.End);
                if (!result.IsCompleted)
                {
                    await DrainAsync(reader, cancellationToken).ConfigureAwait(false);
                }

                throw TooLarge();
            }

            if (result.IsCompleted)
            {
                try
                {
                    return Parse(buffer, type);
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static async Task DrainAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (BadHttpRequestException)
        {
            // Over DrainBytes: Kestrel closes the connection after the answer; the 413 still goes out first.
        }
    }

    private static T? Parse<T>(ReadOnlySequence<byte> body, JsonTypeInfo<T> type)
        where T : class
    {
        if (IsBlank(body))
        {
            return null;
        }

        try
        {
            var json = new Utf8JsonReader(body);
            return JsonSerializer.Deserialize(ref json, type)
                ?? throw new BadRequestException(StatusCodes.Status400BadRequest, "request body is JSON null; expected an object");
        }
        catch (JsonException ex)
        {
            throw new BadRequestException(StatusCodes.Status400BadRequest,
                $"request body is not valid JSON for this call ({Describe(ex)}); expected an object such as {ExampleOf(type)}");
        }
    }

    private static bool IsBlank(ReadOnlySequence<byte> body)
    {
        foreach (var segment in body)
        {
            if (segment.Span.IndexOfAnyExcept(" \t\r\n"u8) >= 0)
            {
                return false;
            }
        }

        return true;
    }

    private static string Describe(JsonException ex) =>
        ex.Path is { Length: > 1 } path ? $"at {path}, line {ex.LineNumber + 1}" : $"line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}";

    private static string ExampleOf<T>(JsonTypeInfo<T> type) => type.Type.Name switch
    {
        nameof(CreateRequest) => """{"Name":"v1","Opts":{"key":"value"}}""",
        nameof(MountRequest) => """{"Name":"v1","ID":"<mount id>"}""",
        _ => """{"Name":"v1"}""",
    };

    private static BadRequestException TooLarge() =>
        new(StatusCodes.Status413PayloadTooLarge, $"request body is larger than {MaxBytes / 1024} KiB, the most csvol accepts");
}

/// <summary>A request csvol cannot even read: answered with <see cref="StatusCode"/> and an <c>Err</c>.</summary>
internal sealed class BadRequestException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}
