using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Csvol.FakeCloud.Arm;

/// <summary>
/// One ARM call, its path taken apart: <c>/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/{Kind}/{Name}/{Action}</c>,
/// <c>/subscriptions/S/resourceGroups/RG/resources</c> (Kind <c>resources</c>), or an operation monitor
/// <c>/subscriptions/S/providers/Microsoft.Compute/locations/L/{operations|operationResults}/ID</c>.
/// </summary>
internal sealed class ArmRequest
{
    public required string Method { get; init; }

    public required string Subscription { get; init; }

    public string? ResourceGroup { get; init; }

    /// <summary>disks, snapshots, virtualMachines, resources, resourceGroups, operations or operationResults.</summary>
    public required string Kind { get; init; }

    public string? Name { get; init; }

    public string? Action { get; init; }

    public required IQueryCollection Query { get; init; }

    public JsonNode? Body { get; init; }

    /// <summary><c>https://127.0.0.1:PORT</c>, for the links the answer carries.</summary>
    public required string BaseUri { get; init; }

    public required string Path { get; init; }

    /// <summary>The name faults and call counts go by: <c>"{METHOD} {Kind}"</c>, e.g. <c>PATCH virtualMachines</c>.</summary>
    public string Key => $"{Method} {Kind}";

    public string ApiVersion => Query["api-version"].ToString();

    public static string KeyOf(HttpRequest request)
    {
        var parts = Parse(request.Path.Value ?? "");
        return parts is { } p ? $"{request.Method} {p.Kind}" : $"{request.Method} ?";
    }

    public static async Task<ArmRequest> ReadAsync(HttpRequest request, string baseUri, CancellationToken cancellationToken)
    {
        var path = request.Path.Value ?? "";
        var parts = Parse(path) ?? throw new ArmError(400, "InvalidRequestUri", $"The fake ARM does not serve '{path}'.");
        JsonNode? body = null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                body = await JsonNode.ParseAsync(request.Body, cancellationToken: cancellationToken);
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: " + e.Message);
            }
        }

        return new ArmRequest
        {
            Method = request.Method,
            Subscription = parts.Subscription,
            ResourceGroup = parts.ResourceGroup,
            Kind = parts.Kind,
            Name = parts.Name,
            Action = parts.Action,
            Query = request.Query,
            Body = body,
            BaseUri = baseUri,
            Path = path,
        };
    }

    private static (string Subscription, string? ResourceGroup, string Kind, string? Name, string? Action)? Parse(string path)
    {
        var s = path.Trim('/').Split('/');
        bool Is(int i, string word) => s.Length > i && s[i].Equals(word, StringComparison.OrdinalIgnoreCase);
        if (!Is(0, "subscriptions") || s.Length < 2)
        {
            return null;
        }

        if (Is(2, "providers") && Is(3, "Microsoft.Compute") && Is(4, "locations") && s.Length == 8
            && (Is(6, "operations") || Is(6, "operationResults")))
        {
            return (s[1], null, Is(6, "operations") ? "operations" : "operationResults", s[7], null);
        }

        if (!Is(2, "resourceGroups") || s.Length < 4)
        {
            return null;
        }

        if (s.Length == 4)
        {
            return (s[1], s[3], "resourceGroups", null, null);
        }

        if (s.Length == 5 && Is(4, "resources"))
        {
            return (s[1], s[3], "resources", null, null);
        }

        if (!Is(4, "providers") || !Is(5, "Microsoft.Compute") || s.Length is < 7 or > 9)
        {
            return null;
        }

        string[] kinds = ["disks", "snapshots", "virtualMachines"];
        var kind = kinds.FirstOrDefault(k => Is(6, k));
        return kind is null ? null : (s[1], s[3], kind, s.Length > 7 ? s[7] : null, s.Length > 8 ? s[8] : null);
    }
}
