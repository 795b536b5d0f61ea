using System.Collections.Frozen;

namespace Csvol.Providers;

/// <summary>A backend csvol can run, by the name <c>CSVOL_PROVIDER</c> selects it with.</summary>
internal sealed record ProviderRegistration(string Name, Func<IServiceProvider, IVolumeProvider> Create);

/// <summary>Backends by name, fixed at start; unknown and duplicate names fail start-up.</summary>
internal sealed class ProviderRegistry
{
    private readonly FrozenDictionary<string, ProviderRegistration> _byName;

    public ProviderRegistry(IEnumerable<ProviderRegistration> registrations)
    {
        var byName = new Dictionary<string, ProviderRegistration>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            if (!byName.TryAdd(registration.Name, registration))
            {
                throw new InvalidOperationException($"two storage backends are registered as \"{registration.Name}\"");
            }
        }

        _byName = byName.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public IEnumerable<string> Names => _byName.Keys.Order(StringComparer.Ordinal);

    public ProviderRegistration Get(string name) =>
        _byName.TryGetValue(name, out var registration)
            ? registration
            : throw new InvalidOperationException(
                $"CSVOL_PROVIDER=\"{name}\" is not a storage backend csvol has; valid values: {string.Join(", ", Names)}");
}
