using Csvol.Backends.Disks;
using Csvol.Mounting;
using Csvol.Resilience;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Polly.Registry;

namespace Csvol.Backends.AzureDisk;

internal static class AzureDiskBackendRegistration
{
    /// <summary>
    /// Offers <c>csvol/azuredisk</c> under <c>CSVOL_BACKEND=azuredisk</c>, with its pipeline <c>csvol-azuredisk</c> (which
    /// honours a 429's Retry-After). Its settings (<c>CSVOL_CLUSTER</c>, <c>CSVOL_AZURE_*</c>, <c>AZURE_*</c>) are read
    /// when the backend is chosen, never otherwise.
    /// </summary>
    /// <param name="services">Where the registration goes.</param>
    /// <param name="resilience">Limits of the pipeline; the defaults keep an operation inside csvol's call deadline.</param>
    public static IServiceCollection AddAzureDiskBackend(this IServiceCollection services, BackendResilienceSettings? resilience = null)
    {
        services.AddBackendPipeline(AzureDiskBackend.PipelineName, AzureDiskBackend.IsTransient, resilience, AzureDiskBackend.RetryAfter);
        services.TryAddSingleton<FormatOnce>();
        return services.AddSingleton(new BackendRegistration(AzureDiskBackend.BackendName, sp => new AzureDiskBackend(
            AzureDiskSettings.From(sp.GetRequiredService<IConfiguration>()),
            sp.GetRequiredService<ResiliencePipelineProvider<string>>().GetPipeline(AzureDiskBackend.PipelineName),
            sp.GetRequiredService<IMounter>(),
            sp.GetRequiredService<FormatOnce>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<AzureDiskBackend>())));
    }
}
