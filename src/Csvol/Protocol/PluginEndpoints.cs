using System.Buffers;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Csvol.Volumes;

namespace Csvol.Protocol;

/// <summary>Docker's volume plugin protocol: one POST endpoint per call, JSON in and out.</summary>
internal static partial class PluginEndpoints
{
    /// <summary>What docker/go-plugins-helpers answers with; dockerd reads any JSON.</summary>
    public const string ContentType = "application/vnd.docker.plugins.v1.1+json";

    private static readonly string[] Endpoints =
    [
        "/Plugin.Activate", "/VolumeDriver.Create", "/VolumeDriver.Remove", "/VolumeDriver.Mount", "/VolumeDriver.Unmount",
        "/VolumeDriver.Path", "/VolumeDriver.Get", "/VolumeDriver.List", "/VolumeDriver.Capabilities",
    ];

    private static readonly EmptyResponse Empty = new();

    private const int MaxKeptBuffer = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_json;

    // Docker shows Err text to people: keep quotes and non-ASCII readable rather than \u-escaped.
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The whole protocol as one request handler: a lookup by path, then the call's own handler.</summary>
    /// <param name="volumes">The volumes every call works on.</param>
    /// <param name="logger">Where each call is logged.</param>
    /// <param name="stopping">Cancelled at shutdown, the only thing that abandons work in progress.</param>
    public static RequestDelegate Create(VolumeService volumes, ILogger logger, CancellationToken stopping)
    {
        var activate = new ActivateResponse(["VolumeDriver"]);
        var capabilities = new CapabilitiesResponse(new CapabilitiesInfo(volumes.Scope));
        var json = WireJsonContext.Default;
        var wire = new VolumeWire(volumes.DriverName, volumes.MountpointOf, volumes.AddStatus);
        Func<long> version = () => volumes.Version;
        var calls = new Dictionary<string, RequestDelegate>(StringComparer.OrdinalIgnoreCase)
        {
            ["/Plugin.Activate"] = Call(logger, "Activate", () => json.NameRequest, Answer(Json(() => json.ActivateResponse)), false,
                static _ => null, (_, _) => ValueTask.FromResult(activate)),

            ["/VolumeDriver.Capabilities"] = Call(logger, "Capabilities", () => json.NameRequest, Answer(Json(() => json.CapabilitiesResponse)), false,
                static _ => null, (_, _) => ValueTask.FromResult(capabilities)),

            ["/VolumeDriver.Create"] = Call(logger, "Create", () => json.CreateRequest, Answer(Json(() => json.EmptyResponse)), true,
                static r => r?.Name, async (r, _) =>
                {
                    await volumes.CreateAsync(r?.Name, r?.Opts, stopping).ConfigureAwait(false);
                    return Empty;
                }),

            ["/VolumeDriver.Remove"] = Call(logger, "Remove", () => json.NameRequest, Answer(Json(() => json.EmptyResponse)), true,
                static r => r?.Name, async (r, _) =>
                {
                    await volumes.RemoveAsync(r?.Name, stopping).ConfigureAwait(false);
                    return Empty;
                }),

            ["/VolumeDriver.Mount"] = Call(logger, "Mount", () => json.MountRequest, Answer(Json(() => json.MountpointResponse)), true,
                static r => r?.Name, async (r, _) =>
                    new MountpointResponse(await volumes.MountAsync(r?.Name, r?.ID, stopping).ConfigureAwait(false))),

            ["/VolumeDriver.Unmount"] = Call(logger, "Unmount", () => json.MountRequest, Answer(Json(() => json.EmptyResponse)), true,
                static r => r?.Name, async (r, _) =>
                {
                    await volumes.UnmountAsync(r?.Name, r?.ID, stopping).ConfigureAwait(false);
                    return Empty;
                }),

            ["/VolumeDriver.Path"] = Call(logger, "Path", () => json.NameRequest, Answer(Json(() => json.MountpointResponse)), false,
                static r => r?.Name, async (r, _) =>
                    new MountpointResponse(await volumes.PathAsync(r?.Name).ConfigureAwait(false))),

            ["/VolumeDriver.Get"] = Call<NameRequest, VolumeRecord>(logger, "Get", () => json.NameRequest,
                Answer<VolumeRecord>(wire.WriteGet), false,
                static r => r?.Name, (r, _) => volumes.GetAsync(r?.Name)),

            ["/VolumeDriver.List"] = Call<NameRequest, ReadOnlyMemory<byte>>(logger, "List", () => json.NameRequest,
                WriteReadyAsync, false,
                static _ => null, async (_, _) =>
                {
                    var listed = version(); // before the records, so a change while rendering is noticed
                    return wire.ListJson(listed, await volumes.ListAsync().ConfigureAwait(false), version);
                }),
        }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

        return context => calls.TryGetValue(context.Request.Path.Value ?? "", out var call)
            ? call(context)
            : UnknownEndpoint(context, logger);
    }

    private static Task UnknownEndpoint(HttpContext context, ILogger logger)
    {
        var message = $"unknown endpoint {context.Request.Method} {Printable(context.Request.Path)}; " +
            $"csvol answers POST on {string.Join(", ", Endpoints)}";
        LogCall(logger, LogLevel.Warning, "Unknown", "", 0, message);
        return WriteAsync(context, StatusCodes.Status404NotFound, new ErrResponse(message), Json(() => WireJsonContext.Default.ErrResponse));
    }

    /// <summary>A 200 whose JSON <paramref name="write"/> produces, sent with its length.</summary>
    private static Func<HttpContext, T, Task> Answer<T>(Action<Utf8JsonWriter, T> write) =>
        (context, value) => WriteAsync(context, StatusCodes.Status200OK, value, write);

    /// <summary>Writes a response type through its source-generated serializer.</summary>
    /// <remarks>Type metadata is built on first use, not at start: building all of it cost ~1 ms of a ~12 ms start.</remarks>
    private static Action<Utf8JsonWriter, T> Json<T>(Func<JsonTypeInfo<T>> type) => (writer, value) => JsonSerializer.Serialize(writer, value, type());

    /// <summary>Reads, runs, answers and logs one call; every failure becomes an <c>Err</c>.</summary>
    private static RequestDelegate Call<TRequest, TResponse>(
        ILogger logger,
        string operation,
        Func<JsonTypeInfo<TRequest>> requestType,
        Func<HttpContext, TResponse, Task> answer,
        bool changesState,
        Func<TRequest?, string?> volumeOf,
        Func<TRequest?, CancellationToken, ValueTask<TResponse>> handle)
        where TRequest : class
    {
        var writeErr = Json(() => WireJsonContext.Default.ErrResponse);
        var okLevel = changesState ? LogLevel.Information : LogLevel.Debug;
        return async context =>
        {
            var started = Stopwatch.GetTimestamp();
            TRequest? request = null;
            if (!HttpMethods.IsPost(context.Request.Method))
            {
                var message = $"{context.Request.Method} is not supported on {context.Request.Path}; the plugin protocol uses POST";
                LogCall(logger, LogLevel.Warning, operation, "", 0, message);
                await WriteAsync(context, StatusCodes.Status405MethodNotAllowed, new ErrResponse(message), writeErr).ConfigureAwait(false);
                return;
            }

            try
            {
                request = await RequestBody.ReadAsync(context.Request, requestType(), context.RequestAborted).ConfigureAwait(false);
                if (changesState)
                {
                    // Reads answer on Kestrel's I/O thread; calls that mount, unmount or fsync block, so they move
                    // to the thread pool and never hold up other connections.
                    await Task.Yield();
                }

                var response = await handle(request, context.RequestAborted).ConfigureAwait(false);
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

                await WriteAsync(context, status, new ErrResponse(message), writeErr).ConfigureAwait(false);
            }
        };
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
        response.ContentType = ContentType;
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

    /// <summary>An answer already rendered (List): written as it is, with its length.</summary>
    private static async Task WriteReadyAsync(HttpContext context, ReadOnlyMemory<byte> json)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
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

    private static string VolumeForLog(string? name) => name is null ? "" : Printable(name);

    private static string Printable(string text) => VolumeName.Printable(text, 140);

    [LoggerMessage(Message = "{Operation} {Volume} {Outcome} in {ElapsedMs:0.###} ms")]
    private static partial void LogCall(ILogger logger, LogLevel level, string operation, string volume, double elapsedMs, string outcome);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Operation} {Volume} failed unexpectedly after {ElapsedMs:0.###} ms")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string operation, string volume, double elapsedMs);
}
