using Csvol.Mounting;

namespace Csvol.Backends.Local;

internal static class LocalBackendRegistration
{
    /// <summary>Offers <c>csvol/local</c> under <c>CSVOL_BACKEND=local</c>; its data lives in the state directory.</summary>
    /// <param name="services">Where the registration goes.</param>
    /// <param name="stateDirectory">The state directory's real path, known once the host has prepared it.</param>
    public static IServiceCollection AddLocalBackend(this IServiceCollection services, Func<IServiceProvider, string> stateDirectory) =>
        services.AddSingleton(new BackendRegistration(LocalBackend.BackendName, sp => new LocalBackend(
            stateDirectory(sp),
            sp.GetRequiredService<IMounter>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<LocalBackend>())));
}
