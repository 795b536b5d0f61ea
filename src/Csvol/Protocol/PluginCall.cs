using System.Buffers;
using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Csvol.Volumes;

namespace Csvol.Protocol;

/// <summary>
/// What every protocol call shares: the bounded body read, the move off the I/O thread for calls that block, the answer
/// sent with a Content-Length, one log line, and every failure turned into an <c>Err</c>.
/// </summary>
internal sealed partial class PluginCall(ILogger logger)
{
    private const int MaxKeptBuffer = 64 * 1024;

    // Docker shows Err text to people: keep quotes and non-ASCII readable rather than \u-escaped.
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly Action<Utf8JsonWriter, ErrResponse> WriteErr = Json(() => WireJsonContext.Default.ErrResponse);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    /// <summary>The handler of one endpoint.</summary>
    /// <param name="operation">The call's name in the log: "Create", "Get", ….</param>
    /// <param name="requestType">The body's JSON type, built on first use.</param>
    /// <param name="changesState">Whether the call blocks (mount, fsync) and is logged at Information; reads run inline and log at Debug.</param>
    /// <param name="volumeOf">The volume named in the request, for the log.</param>
    /// <param name="handle">The call itself; a null request is an empty body.</param>
    /// <param name="answer">Writes the 200 answer.</param>
    public RequestDelegate Handler<TRequest, TResponse>(
        string operation,
        Func<JsonTypeInfo<TRequest>> requestType,
        bool changesState,
        Func<TRequest?, string?> volumeOf,
        Func<TRequest?, ValueTask<TResponse>> handle,
        Func<HttpContext, TResponse, Task> answer)
        where TRequest : class
    {
        var okLevel = changesState ? LogLevel.Information : LogLevel.Debug;
        return async context =>
        {
            var started = Stopwatch.GetTimestamp();
            TRequest? request = null;
            try
            {
                request = await RequestBody.ReadAsync(context.Request, requestType(), context.RequestAborted).ConfigureAwait(false);
                if (changesState)
                {
                    // Reads answer on Kestrel's I/O thread; calls that mount, unmount or fsync block, so they move
                    // to the thread pool and never hold up other connections.
                    await Task.Yield();
                }

                var response = await handle(request).ConfigureAwait(false);
                if (logger.IsEnabled(okLevel))
                {
                    LogCall(logger, okLevel, operation, VolumeForLog(volumeOf(request)), Stopwatch.GetElapsedTime(started).TotalMilliseconds, "ok");
                }

                await answer(context, response).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                LogCall(logger, LogLevel.Warning, operation, VolumeForLog(volumeOf(request)),
                    Stopwatch.GetElapsedTime(started).TotalMilliseconds, "caller hung up");
            }
            catch (Exception ex)
            {
                var (status, message) = ex switch
                {
                    BadRequestException bad => (bad.StatusCode, bad.Message),
                    VolumeException => (StatusCodes.Status500InternalServerError, ex.Message),
                    _ => (StatusCodes.Status500InternalServerError,
                        $"csvol failed during {operation}: {ex.Message} (the plugin log has details)"),
                };
                if (ex is BadRequestException or VolumeException)
                {
                    LogCall(logger, LogLevel.Warning, operation, VolumeForLog(volumeOf(request)),
                        Stopwatch.GetElapsedTime(started).TotalMilliseconds, "error: " + message);
                }
                else
                {
                    LogUnexpected(logger, ex, operation, VolumeForLog(volumeOf(request)), Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }

                await WriteAsync(context, status, new ErrResponse(message), WriteErr).ConfigureAwait(false);
            }
        };
    }

    /// <summary>A call refused before it ran (unknown path, wrong method): logged, and answered with an Err.</summary>
    public Task RefuseAsync(HttpContext context, int status, string operation, string message)
    {
        LogCall(logger, LogLevel.Warning, operation, "", 0, message);
        return WriteAsync(context, status, new ErrResponse(message), WriteErr);
    }

    /// <summary>A 200 whose JSON <paramref name="write"/> produces, sent with its length.</summary>
    public static Func<HttpContext, T, Task> Answer<T>(Action<Utf8JsonWriter, T> write) =>
        (context, value) => WriteAsync(context, StatusCodes.Status200OK, value, write);

    /// <summary>Writes a response type through its source-generated serializer.</summary>
    /// <remarks>Type metadata is built on first use, not at start: building all of it cost ~1 ms of a ~12 ms start.</remarks>
    public static Action<Utf8JsonWriter, T> Json<T>(Func<JsonTypeInfo<T>> type) => (writer, value) => JsonSerializer.Serialize(writer, value, type());

    /// <summary>An answer already rendered (List): written as it is, with its length.</summary>
    public static async Task WriteReadyAsync(HttpContext context, ReadOnlyMemory<byte> json)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = PluginEndpoints.ContentType;
        response.ContentLength = json.Length;

        // In 64 KiB slices: one write of the whole answer made the pipe allocate a buffer that large (~750 KB for
        // 10,000 volumes) on the large object heap on every List, which showed up as tens of MB of resident memory;
        // 64 KiB stays below that heap, and 4 KiB slices waited on the socket too often (List of 10,000: 1.4-12 ms).
        const int slice = 64 * 1024;
        for (var offset = 0; offset < json.Length; offset += slice)
        {
            await response.BodyWriter.WriteAsync(json.Slice(offset, Math.Min(slice, json.Length - offset)), context.RequestAborted)
                .ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Answers with a Content-Length (Docker's own plugins do; a flushed-as-written body went out chunked): the JSON
    /// is built in a per-thread buffer first, then copied into the response in one write.
    /// </summary>
    private static Task WriteAsync<T>(HttpContext context, int status, T body, Action<Utf8JsonWriter, T> write)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }

        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        var json = t_json ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        json.Reset();
        write(json, body);
        json.Flush();

        response.StatusCode = status;
        response.ContentType = PluginEndpoints.ContentType;
        response.ContentLength = buffer.WrittenCount;
        var written = response.BodyWriter.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        // A write still pending owns the buffer; so does nothing else once a List of thousands has grown it.
        if (!written.IsCompleted || buffer.Capacity > MaxKeptBuffer)
        {
            t_buffer = null;
            t_json = null;
        }

        return written.IsCompletedSuccessfully ? Task.CompletedTask : written.AsTask();
    }

    private static string VolumeForLog(string? name) => name is null ? "" : Printable(name);

    internal static string Printable(string text) => VolumeName.Printable(text, 140);
}
