using Csvol.Backends;

namespace Csvol.Protocol;

/// <summary>What Docker calls csvol's driver and how widely its volumes are shared, in Docker's own words.</summary>
internal sealed record PluginDriver(string Name, VolumeScope Scope)
{
    /// <summary>The driver name volumes show in <c>docker volume ls</c> and under Status, e.g. <c>csvol/local</c>.</summary>
    public static PluginDriver ForBackend(string backend, VolumeScope scope) => new("csvol/" + backend, scope);

    /// <summary>The Capabilities answer's <c>Scope</c>: "global" when every host sees the same volumes, else "local".</summary>
    public string ScopeName => Scope == VolumeScope.Global ? "global" : "local";
}
