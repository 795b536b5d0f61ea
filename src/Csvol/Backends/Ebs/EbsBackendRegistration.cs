using Csvol.Backends.Disks;
using Csvol.Mounting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Csvol.Resilience;
using Polly.Registry;

namespace Csvol.Backends.Ebs;

internal static class EbsBackendRegistration
{
    /// <summary>
    /// Offers <c>csvol/ebs</c> under <c>CSVOL_BACKEND=ebs</c>, with its pipeline <c>csvol-ebs</c>. Its settings
    /// (<c>CSVOL_CLUSTER</c>, <c>CSVOL_EBS_*</c>, <c>AWS_*</c>) are read when the backend is chosen, never otherwise.
    /// </summary>
    /// <param name="services">Where the registration goes.</param>
    /// <param name="resilience">Limits of the pipeline; the defaults keep an operation inside csvol's call deadline.</param>
    public static IServiceCollection AddEbsBackend(this IServiceCollection services, BackendResilienceSettings? resilience = null)
    {
        services.AddBackendPipeline(EbsBackend.PipelineName, EbsBackend.IsTransient, resilience);
        services.TryAddSingleton<FormatOnce>();
        return services.AddSingleton(new BackendRegistration(EbsBackend.BackendName, sp => new EbsBackend(
            EbsSettings.From(sp.GetRequiredService<IConfiguration>()),
            sp.GetRequiredService<ResiliencePipelineProvider<string>>().GetPipeline(EbsBackend.PipelineName),
            sp.GetRequiredService<IMounter>(),
            sp.GetRequiredService<FormatOnce>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<EbsBackend>())));
    }
}
