using System.Text.Json.Serialization;

namespace Csvol.Protocol;

// Request and response bodies of Docker's volume plugin protocol. Property names are Docker's own
// (moby volume/drivers/proxy.go, docker/go-plugins-helpers volume/api.go); do not rename them.

internal sealed record CreateRequest(string? Name, Dictionary<string, string>? Opts);

internal sealed record NameRequest(string? Name);

internal sealed record MountRequest(string? Name, string? ID);

internal sealed record ActivateResponse(string[] Implements);

internal sealed record ErrResponse(string Err);

internal sealed record EmptyResponse
{
    public static readonly EmptyResponse Instance = new();
}

internal sealed record MountpointResponse(string Mountpoint);

// Get and List answers are written straight from the volume records by VolumeWire.

internal sealed record CapabilitiesInfo(string Scope);

internal sealed record CapabilitiesResponse(CapabilitiesInfo Capabilities);

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateRequest))]
[JsonSerializable(typeof(NameRequest))]
[JsonSerializable(typeof(MountRequest))]
[JsonSerializable(typeof(ActivateResponse))]
[JsonSerializable(typeof(ErrResponse))]
[JsonSerializable(typeof(EmptyResponse))]
[JsonSerializable(typeof(MountpointResponse))]
[JsonSerializable(typeof(CapabilitiesResponse))]
internal sealed partial class WireJsonContext : JsonSerializerContext
{
}
