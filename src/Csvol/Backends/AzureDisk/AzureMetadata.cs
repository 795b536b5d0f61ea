using System.Text.Json;

namespace Csvol.Backends.AzureDisk;

/// <summary>Who and where this VM is, as Azure's instance metadata service says.</summary>
internal sealed record VmIdentity(string SubscriptionId, string ResourceGroup, string Name, string Location, string? Zone)
{
    public string ResourceId => VmResourceId(SubscriptionId, ResourceGroup, Name);

    public static string VmResourceId(string subscriptionId, string resourceGroup, string name) =>
        $"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/virtualMachines/{name}";
}

/// <summary>
/// Azure IMDS through the plugin's own HttpClient (no proxy, short timeout), asked once on first need: the socket
/// answers before any cloud call, and a plugin off Azure still starts.
/// </summary>
internal sealed class AzureMetadata(Uri baseUrl) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout };
    private readonly SemaphoreSlim _once = new(1, 1);
    private VmIdentity? _identity;

    public async Task<VmIdentity> GetAsync(CancellationToken cancellationToken)
    {
        if (_identity is { } known)
        {
            return known;
        }

        await _once.WaitAsync(cancellationToken);
        try
        {
            return _identity ??= await AskAsync(cancellationToken);
        }
        finally
        {
            _ = _once.Release();
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _once.Dispose();
    }

    private async Task<VmIdentity> AskAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUrl, "/metadata/instance/compute?api-version=2021-02-01"));
        request.Headers.Add("Metadata", "true");
        string body;
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new BackendUnavailableException(
                    $"Azure instance metadata (IMDS at {baseUrl}) answered {(int)response.StatusCode}; is this an Azure VM?");
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new BackendUnavailableException($"Azure instance metadata (IMDS at {baseUrl}) did not answer: {ex.Message}; is this an Azure VM?", ex);
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var compute = document.RootElement;
            string? Text(string name) => compute.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;
            return new VmIdentity(
                Text("subscriptionId") ?? throw new JsonException("no subscriptionId"),
                Text("resourceGroupName") ?? throw new JsonException("no resourceGroupName"),
                Text("name") ?? throw new JsonException("no name"),
                Text("location") ?? throw new JsonException("no location"),
                Text("zone"));
        }
        catch (JsonException ex)
        {
            throw new BackendUnavailableException($"Azure instance metadata (IMDS at {baseUrl}) answered what csvol cannot read: {ex.Message}", ex);
        }
    }
}
