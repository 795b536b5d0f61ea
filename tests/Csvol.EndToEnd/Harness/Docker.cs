namespace Csvol.EndToEnd.Harness;

/// <summary>The docker CLI, always talking to the private test daemon.</summary>
public static class Docker
{
    public const string Socket = "/run/csvol-test/docker.sock";
    public const string Host = "unix://" + Socket;

    /// <summary>Image for test containers: has sh, coreutils and dd; built locally by scripts/base-image.sh.</summary>
    public const string Image = "csvol-base:bookworm";

    /// <summary>Every container a test starts carries this label, so fixtures can remove strays.</summary>
    public const string Label = "csvol-e2e";

    private static readonly Dictionary<string, string> Environment = new(StringComparer.Ordinal) { ["DOCKER_HOST"] = Host };

    public static Task<CommandResult> RunAsync(params string[] arguments) => RunAsync(Cli.DefaultTimeout, arguments);

    public static Task<CommandResult> RunAsync(TimeSpan timeout, params string[] arguments) =>
        Cli.RunAsync("docker", arguments, Environment, timeout);

    public static async Task<string> MustAsync(params string[] arguments) =>
        (await RunAsync(arguments)).MustSucceed().StdOut.Trim();

    /// <summary>Runs a repository script against the private daemon.</summary>
    public static async Task<CommandResult> ScriptAsync(string script, TimeSpan timeout, params string[] arguments) =>
        await Cli.RunAsync("bash", [RepoPaths.Script(script), .. arguments], Environment, timeout, RepoPaths.Root);

    /// <summary>Runs a repository script against the private daemon with more environment variables.</summary>
    public static async Task<CommandResult> ScriptAsync(
        string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments)
    {
        var merged = new Dictionary<string, string>(environment, StringComparer.Ordinal) { ["DOCKER_HOST"] = Host };
        return await Cli.RunAsync("bash", [RepoPaths.Script(script), .. arguments], merged, timeout, RepoPaths.Root);
    }
}
