using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Csvol.FakeCloud;

/// <summary>What every fake shares: an empty WebApplication on 127.0.0.1 at a port the kernel picks, one handler.</summary>
internal static class LoopbackApp
{
    /// <param name="certificate">Serve HTTPS with it; null: plain HTTP.</param>
    public static WebApplication Create(X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        _ = builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                _ = listen.UseHttps(certificate);
            }
        }));
        return builder.Build();
    }

    /// <returns>The address it listens on, without a trailing slash (<c>http://127.0.0.1:PORT</c> or <c>https://…</c>).</returns>
    public static async Task<string> StartAsync(WebApplication app, RequestDelegate handler)
    {
        app.Run(handler);
        await app.StartAsync();
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
    }
}
