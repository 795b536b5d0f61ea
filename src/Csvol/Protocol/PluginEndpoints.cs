using Csvol.Volumes;

namespace Csvol.Protocol;

/// <summary>Docker's volume plugin protocol: one POST endpoint per call, JSON in and out.</summary>
/// <remarks>
/// Every handler is a <see cref="RequestDelegate"/>: the body is read by <see cref="RequestBody"/> (bounded, with 400s that
/// name the JSON path) and answers are written with their length, so there is nothing for parameter binding to do,
/// and nothing is generated or reflected at run time.
/// </remarks>
internal static class PluginEndpoints
{
    /// <summary>What docker/go-plugins-helpers answers with; dockerd reads any JSON.</summary>
    public const string ContentType = "application/vnd.docker.plugins.v1.1+json";

    private static readonly string[] Paths =
    [
        "/Plugin.Activate", "/VolumeDriver.Create", "/VolumeDriver.Remove", "/VolumeDriver.Mount", "/VolumeDriver.Unmount",
        "/VolumeDriver.Path", "/VolumeDriver.Get", "/VolumeDriver.List", "/VolumeDriver.Capabilities",
    ];

    /// <summary>
    /// The whole request pipeline: any method but POST refused first, then routing to the nine endpoints, then a 404
    /// for any other path.
    /// </summary>
    /// <remarks>
    /// Routing sees only POSTs, and exactly one endpoint matches each path: a catch-all fallback would be a second
    /// candidate on every call, which routing resolves by allocating a candidate set and the captured path (~150 bytes
    /// per call, measured with Csvol.Bench alloc).
    /// </remarks>
    /// <param name="app">The app, with nothing else in its pipeline.</param>
    /// <param name="shutdown">Cancelled at the end of shutdown, the only thing that abandons a change in progress.</param>
    public static WebApplication UsePluginProtocol(this WebApplication app, CancellationToken shutdown)
    {
        var call = new PluginCall(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Csvol.Protocol"));
        app.Use((context, next) => HttpMethods.IsPost(context.Request.Method) ? next(context) : NotPostAsync(context, call));
        app.UseRouting();
        app.MapPluginEndpoints(call, shutdown);
        app.UseEndpoints(static _ => { });
        app.Run(context => NotFoundAsync(context, call));
        return app;
    }

    private static void MapPluginEndpoints(this IEndpointRouteBuilder routes, PluginCall call, CancellationToken shutdown)
    {
        var services = routes.ServiceProvider;
        var volumes = services.GetRequiredService<VolumeService>();
        var driver = services.GetRequiredService<PluginDriver>();
        var wire = new VolumeWire(driver.Name, volumes.MountpointOf, volumes.AddStatus);
        var json = WireJsonContext.Default;
        var empty = PluginCall.Answer(PluginCall.Json(() => json.EmptyResponse));
        var mountpoint = PluginCall.Answer(PluginCall.Json(() => json.MountpointResponse));
        var activate = new ActivateResponse(["VolumeDriver"]);
        var capabilities = new CapabilitiesResponse(new CapabilitiesInfo(driver.ScopeName));
        Func<long> version = () => volumes.Version;

        routes.MapPost("/Plugin.Activate", call.Handler("Activate", () => json.NameRequest, changesState: false,
            static _ => null, _ => ValueTask.FromResult(activate), PluginCall.Answer(PluginCall.Json(() => json.ActivateResponse))));

        routes.MapPost("/VolumeDriver.Capabilities", call.Handler("Capabilities", () => json.NameRequest, changesState: false,
            static _ => null, _ => ValueTask.FromResult(capabilities), PluginCall.Answer(PluginCall.Json(() => json.CapabilitiesResponse))));

        routes.MapPost("/VolumeDriver.Create", call.Handler("Create", () => json.CreateRequest, changesState: true,
            static r => r?.Name, async r =>
            {
                await volumes.CreateAsync(r?.Name, r?.Opts, shutdown).ConfigureAwait(false);
                return EmptyResponse.Instance;
            }, empty));

        routes.MapPost("/VolumeDriver.Remove", call.Handler("Remove", () => json.NameRequest, changesState: true,
            static r => r?.Name, async r =>
            {
                await volumes.RemoveAsync(r?.Name, shutdown).ConfigureAwait(false);
                return EmptyResponse.Instance;
            }, empty));

        routes.MapPost("/VolumeDriver.Mount", call.Handler("Mount", () => json.MountRequest, changesState: true,
            static r => r?.Name, async r => new MountpointResponse(r is null
                // dockerd 20.10 sends a Mount again, without its body, to a managed plugin restarted during the first.
                ? throw new VolumeException(
                    "volume name is missing: the Mount request had no body. dockerd sends one so after the plugin restarted during a Mount; " +
                    "run the container again")
                : await volumes.MountAsync(r.Name, r.ID, shutdown).ConfigureAwait(false)),
            mountpoint));

        routes.MapPost("/VolumeDriver.Unmount", call.Handler("Unmount", () => json.MountRequest, changesState: true,
            static r => r?.Name, async r =>
            {
                await volumes.UnmountAsync(r?.Name, r?.ID, shutdown).ConfigureAwait(false);
                return EmptyResponse.Instance;
            }, empty));

        routes.MapPost("/VolumeDriver.Path", call.Handler("Path", () => json.NameRequest, changesState: false,
            static r => r?.Name, async r => new MountpointResponse(await volumes.PathAsync(r?.Name).ConfigureAwait(false)),
            mountpoint));

        routes.MapPost("/VolumeDriver.Get", call.Handler("Get", () => json.NameRequest, changesState: false,
            static r => r?.Name, r => volumes.GetAsync(r?.Name), PluginCall.Answer<VolumeRecord>(wire.WriteGet)));

        routes.MapPost("/VolumeDriver.List", call.Handler("List", () => json.NameRequest, changesState: false,
            static _ => null, async _ =>
            {
                var listed = version(); // before the records, so a change while rendering is noticed
                return wire.ListJson(listed, await volumes.ListAsync().ConfigureAwait(false), version);
            }, PluginCall.WriteReadyAsync));
    }

    private static Task NotPostAsync(HttpContext context, PluginCall call)
    {
        var known = Array.Find(Paths, p => p.Equals(context.Request.Path.Value, StringComparison.OrdinalIgnoreCase));
        return known is null
            ? NotFoundAsync(context, call)
            : call.RefuseAsync(context, StatusCodes.Status405MethodNotAllowed, known[(known.IndexOf('.', StringComparison.Ordinal) + 1)..],
                $"{PluginCall.Printable(context.Request.Method)} is not supported on {known}; the plugin protocol uses POST");
    }

    private static Task NotFoundAsync(HttpContext context, PluginCall call) =>
        call.RefuseAsync(context, StatusCodes.Status404NotFound, "Unknown",
            $"unknown endpoint {PluginCall.Printable(context.Request.Method)} {PluginCall.Printable(context.Request.Path.Value ?? "")}; " +
            $"csvol answers POST on {string.Join(", ", Paths)}");
}
