using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;

namespace Csvol.Tests.FakeCloud;

/// <summary>
/// The real Azure SDK pointed at a fake ARM: its own retries off so every fault is seen, and the run's
/// CA pinned as the only trusted root (no switch turns TLS verification off).
/// </summary>
internal static class ArmClients
{
    public static ArmClient For(Uri endpoint, string subscriptionId, X509Certificate2? trustedRoot, TokenCredential? credential = null)
    {
        var handler = new SocketsHttpHandler { UseProxy = false };
        if (trustedRoot is not null)
        {
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                CustomTrustStore = { trustedRoot },
            };
        }

        var options = new ArmClientOptions
        {
            Environment = new ArmEnvironment(endpoint, "https://management.azure.com"),
            Transport = new HttpClientTransport(handler),
        };
        options.Retry.MaxRetries = 0;
        return new ArmClient(credential ?? new StaticToken(), subscriptionId, options);
    }

    /// <summary>What a test uses where production has a managed identity: any bearer token will do for the fake.</summary>
    internal sealed class StaticToken : TokenCredential
    {
        public List<string[]> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            lock (Scopes)
            {
                Scopes.Add(requestContext.Scopes);
            }

            return new AccessToken("fake-arm-token", DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
