using Csvol.Mounting;

namespace Csvol.Backends.Nfs;

internal static class NfsBackendRegistration
{
    /// <summary>
    /// Offers <c>csvol/nfs</c> under <c>CSVOL_BACKEND=nfs</c>. Its settings (<c>CSVOL_NFS_*</c>) are read when the backend
    /// is chosen, never otherwise. No resilience pipeline: each step is bounded by the backend's watchdog, and Docker
    /// repeats a failed call.
    /// </summary>
    /// <param name="services">Where the registration goes.</param>
    /// <param name="stateDirectory">The state directory's real path; export roots are mounted briefly below it.</param>
    public static IServiceCollection AddNfsBackend(this IServiceCollection services, Func<IServiceProvider, string> stateDirectory) =>
        services.AddSingleton(new BackendRegistration(NfsBackend.BackendName, sp => new NfsBackend(
            NfsSettings.From(sp.GetRequiredService<IConfiguration>()),
            stateDirectory(sp),
            sp.GetRequiredService<IMounter>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<NfsBackend>())));
}
