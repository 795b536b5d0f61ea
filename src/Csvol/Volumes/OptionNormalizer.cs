using System.Collections.Concurrent;
using System.Collections.Frozen;
using Csvol.Backends;

namespace Csvol.Volumes;

/// <summary>The <c>-o</c> options of a Create, checked against the backend's specs and put in canonical form.</summary>
/// <param name="Stored">What the record keeps and a repeated Create is compared with.</param>
/// <param name="Secrets">Options marked secret: handed to the backend once, kept nowhere.</param>
internal sealed record NormalizedOptions(SortedDictionary<string, string> Stored, IReadOnlyDictionary<string, string> Secrets);

/// <summary>
/// Turns raw <c>-o</c> options into <see cref="NormalizedOptions"/>: unknown names are refused with the list of valid
/// ones, each value is normalised (so <c>mode=750</c> and <c>mode=0750</c> are one request), defaults are filled and
/// the backend's cross-option rules applied.
/// </summary>
internal sealed class OptionNormalizer
{
    private static readonly IReadOnlyDictionary<string, string> NoSecrets = FrozenDictionary<string, string>.Empty;
    private readonly IVolumeBackend _backend;
    private readonly FrozenDictionary<string, VolumeOptionSpec> _specs;
    private readonly string _validOptions;
    private readonly string _driverName;
    private readonly ConcurrentDictionary<string, SortedDictionary<string, string>> _shared = new(StringComparer.Ordinal);

    public OptionNormalizer(IVolumeBackend backend)
    {
        _backend = backend;
        _driverName = "csvol/" + backend.Name;
        _specs = backend.Options.ToFrozenDictionary(o => o.Name, StringComparer.Ordinal);
        _validOptions = backend.Options.Count == 0
            ? "it takes no options"
            : "valid options: " + string.Join(", ", backend.Options.Select(o => o.Name).Order(StringComparer.Ordinal));
    }

    public NormalizedOptions Normalize(IReadOnlyDictionary<string, string>? raw)
    {
        var normalized = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Dictionary<string, string>? secrets = null;
        if (raw is not null)
        {
            var unknown = raw.Keys.Where(k => !_specs.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
            {
                var noun = unknown.Count == 1 ? "option" : "options";
                throw new VolumeException(
                    $"unknown {noun} {string.Join(", ", unknown.Select(u => $"\"{VolumeName.Printable(u, 64)}\""))} for {_driverName}; {_validOptions}");
            }

            foreach (var (key, value) in raw)
            {
                var spec = _specs[key];
                var parsed = spec.Normalize(value ?? "");
                if (parsed.Value is null)
                {
                    var shown = spec.Secret ? "" : $" \"{VolumeName.Printable(value ?? "", 256)}\"";
                    throw new VolumeException($"invalid value{shown} for option \"{key}\": expected {parsed.Expected}");
                }

                if (spec.Secret)
                {
                    (secrets ??= new Dictionary<string, string>(StringComparer.Ordinal))[key] = parsed.Value;
                }
                else
                {
                    normalized[key] = parsed.Value;
                }
            }
        }

        foreach (var spec in _backend.Options)
        {
            if (spec.Default is { } fallback && !spec.Secret)
            {
                normalized.TryAdd(spec.Name, fallback);
            }
        }

        if (_backend.CheckCombination(normalized) is { } conflict)
        {
            throw new VolumeException(conflict);
        }

        return new NormalizedOptions(normalized, secrets ?? NoSecrets);
    }

    /// <summary>
    /// One options instance per distinct set: volumes made alike (a compose file, a fleet script) share it rather than
    /// each holding a copy. Records never change their options, so sharing is safe.
    /// </summary>
    public SortedDictionary<string, string> Shared(SortedDictionary<string, string> options) =>
        options.Count == 0 ? options : _shared.GetOrAdd(KeyOf(options), options);

    /// <summary>Forgets a set no volume uses any more, so that the cache holds only what records hold.</summary>
    public void Release(SortedDictionary<string, string> options, IEnumerable<VolumeRecord> remaining)
    {
        if (options.Count > 0 && !remaining.Any(r => ReferenceEquals(r.Options, options)))
        {
            _shared.TryRemove(KeyOf(options), out _);
        }
    }

    public int SharedSets => _shared.Count;

    public static bool Same(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && !a.Except(b).Any();

    public static string Describe(IReadOnlyDictionary<string, string> options) =>
        options.Count == 0 ? "(none)" : string.Join(",", options.Select(o => $"{o.Key}={o.Value}"));

    private static string KeyOf(SortedDictionary<string, string> options) =>
        string.Join('\n', options.Select(o => o.Key + "=" + o.Value));
}
