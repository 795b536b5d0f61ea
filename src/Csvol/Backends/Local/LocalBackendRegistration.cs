using Csvol.Mounting;

namespace Csvol.Backends.Local;

internal static class LocalBackendRegistration
{
    /// <summary>Offers <c>csvol/local</c> under <c>CSVOL_BACKEND=local</c>; its data lives in the state directory.</summary>
    public static IServiceCollection AddLocalBackend(this IServiceCollection services, string stateDirectory) =>
        services.AddSingleton(new BackendRegistration(LocalBackend.BackendName, sp => new LocalBackend(
            stateDirectory,
            sp.GetRequiredService<IMounter>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<LocalBackend>())));
}
