using System.Globalization;

namespace Csvol.Bench;

/// <summary>A mode's arguments: <c>--name value</c> pairs, then optionally <c>--</c> and a command.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Rest { get; private set; } = [];

    /// <param name="args">The arguments after the mode.</param>
    /// <param name="names">The option names this mode accepts, without the leading dashes.</param>
    public static CommandLine Parse(ReadOnlySpan<string> args, params string[] names)
    {
        var parsed = new CommandLine();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--")
            {
                parsed.Rest = args[(i + 1)..].ToArray();
                break;
            }

            var name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : "";
            if (!names.Contains(name))
            {
                throw new UsageException($"unknown argument {args[i]}");
            }

            if (i + 1 == args.Length)
            {
                throw new UsageException($"{args[i]} needs a value");
            }

            if (!parsed._values.TryGetValue(name, out var values))
            {
                parsed._values[name] = values = [];
            }

            values.Add(args[++i]);
        }

        return parsed;
    }

    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out var values) ? values : [];

    public string? Optional(string name) => _values.TryGetValue(name, out var values) ? values[^1] : null;

    public string Required(string name) => Optional(name) ?? throw new UsageException($"--{name} is required");

    public int Int(string name, int defaultValue, int minimum)
    {
        var text = Optional(name);
        if (text is null)
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= minimum
            ? value
            : throw new UsageException($"--{name} must be a whole number >= {minimum}, not \"{text}\"");
    }
}

/// <summary>Bad arguments: the message and the usage go to stderr, and the exit code is 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
