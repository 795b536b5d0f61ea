using System.Collections.Frozen;

namespace Csvol.Backends;

/// <summary>A backend csvol can run, by the name <c>CSVOL_BACKEND</c> selects it with.</summary>
internal sealed record BackendRegistration(string Name, Func<IServiceProvider, IVolumeBackend> Create);

/// <summary>Backends by name, fixed at start; unknown and duplicate names fail start-up.</summary>
internal sealed class BackendRegistry
{
    private readonly FrozenDictionary<string, BackendRegistration> _byName;

    public BackendRegistry(IEnumerable<BackendRegistration> registrations)
    {
        var byName = new Dictionary<string, BackendRegistration>(StringComparer.Ordinal);
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

    public BackendRegistration Get(string name) =>
        _byName.TryGetValue(name, out var registration)
            ? registration
            : throw new InvalidOperationException(
                $"CSVOL_BACKEND=\"{name}\" is not a storage backend csvol has; valid values: {string.Join(", ", Names)}");
}
