namespace Csvol.Backends.Ebs;

/// <summary>Who and where this instance is.</summary>
internal sealed record InstanceIdentity(string InstanceId, string AvailabilityZone, string Region);

/// <summary>
/// IMDSv2 through the plugin's own HttpClient (no proxy, short timeout), asked once on first need: the socket answers
/// before any cloud call, and a plugin off EC2 still starts.
/// </summary>
internal sealed class InstanceMetadata(Uri baseUrl) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout };
    private readonly SemaphoreSlim _once = new(1, 1);
    private InstanceIdentity? _identity;

    public async Task<InstanceIdentity> GetAsync(CancellationToken cancellationToken)
    {
        if (_identity is { } known)
        {
            return known;
        }

        await _once.WaitAsync(cancellationToken);
        try
        {
            if (_identity is null)
            {
                var token = await SendAsync(HttpMethod.Put, "/latest/api/token", null, cancellationToken);
                var instanceId = await SendAsync(HttpMethod.Get, "/latest/meta-data/instance-id", token, cancellationToken);
                var zone = await SendAsync(HttpMethod.Get, "/latest/meta-data/placement/availability-zone", token, cancellationToken);
                var region = await SendAsync(HttpMethod.Get, "/latest/meta-data/placement/region", token, cancellationToken);
                _identity = new InstanceIdentity(instanceId, zone, region);
            }

            return _identity;
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

    private async Task<string> SendAsync(HttpMethod method, string path, string? token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(baseUrl, path));
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
                    $"instance metadata (IMDSv2 at {baseUrl}) answered {(int)response.StatusCode} to {method} {path}; is this an EC2 instance with IMDS enabled (hop limit 2 for a container)?");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new BackendUnavailableException(
                $"instance metadata (IMDSv2 at {baseUrl}) did not answer {method} {path}: {ex.Message}; is this an EC2 instance with IMDS enabled?", ex);
        }
    }
}
