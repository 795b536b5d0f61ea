using Csvol.Backends.Disks;

namespace Csvol.Backends.Ebs;

/// <summary>Who and where this instance is.</summary>
internal sealed record InstanceIdentity(string InstanceId, string AvailabilityZone, string Region);

/// <summary>
/// IMDSv2 through the plugin's own HttpClient (no proxy, short timeout), asked once on first need: the socket answers
/// before any cloud call, and a plugin off EC2 still starts.
/// </summary>
internal sealed class InstanceMetadata : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout };
    private readonly Uri _baseUrl;
    private readonly FetchOnce<InstanceIdentity> _identity;

    public InstanceMetadata(Uri baseUrl)
    {
        _baseUrl = baseUrl;
        _identity = new FetchOnce<InstanceIdentity>(AskAsync);
    }

    public Task<InstanceIdentity> GetAsync(CancellationToken cancellationToken) => _identity.GetAsync(cancellationToken);

    public void Dispose()
    {
        _http.Dispose();
        _identity.Dispose();
    }

    private async Task<InstanceIdentity> AskAsync(CancellationToken cancellationToken)
    {
        var token = await SendAsync(HttpMethod.Put, "/latest/api/token", null, cancellationToken);
        var instanceId = await SendAsync(HttpMethod.Get, "/latest/meta-data/instance-id", token, cancellationToken);
        var zone = await SendAsync(HttpMethod.Get, "/latest/meta-data/placement/availability-zone", token, cancellationToken);
        var region = await SendAsync(HttpMethod.Get, "/latest/meta-data/placement/region", token, cancellationToken);
        return new InstanceIdentity(instanceId, zone, region);
    }

    private async Task<string> SendAsync(HttpMethod method, string path, string? token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(_baseUrl, path));
        if (token is null)
        {
            request.Headers.Add("X-aws-ec2-metadata-token-ttl-seconds", "21600");
        }
        else
        {
            request.Headers.Add("X-aws-ec2-metadata-token", token);
        }

        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var body = (await response.Content.ReadAsStringAsync(cancellationToken)).Trim();
            return response.IsSuccessStatusCode && body.Length > 0
                ? body
                : throw new BackendUnavailableException(
                    $"instance metadata (IMDSv2 at {_baseUrl}) answered {(int)response.StatusCode} to {method} {path}; is this an EC2 instance with IMDS enabled (hop limit 2 for a container)?");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new BackendUnavailableException(
                $"instance metadata (IMDSv2 at {_baseUrl}) did not answer {method} {path}: {ex.Message}; is this an EC2 instance with IMDS enabled?", ex);
        }
    }
}
