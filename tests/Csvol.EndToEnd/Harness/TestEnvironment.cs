namespace Csvol.EndToEnd.Harness;

/// <summary>
/// What every end-to-end test needs, prepared once per test run: the private dockerd (started if it is not
/// running), the base image and a published csvol binary. A missing tool fails the tests with what to
/// install; nothing is installed from here (scripts/deps.sh does that, and make test runs it).
/// </summary>
public static class TestEnvironment
{
    private static readonly (string Tool, string Package)[] Tools =
        [("docker", "docker.io"), ("dockerd", "docker.io"), ("setsid", "util-linux"), ("umount", "mount"), ("dotnet", "the .NET SDK")];

    private static readonly Lazy<Task> Prepared = new(PrepareAsync);

    public static Task EnsureAsync() => Prepared.Value;

    private static async Task PrepareAsync()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("the end-to-end tests mount file systems and run dockerd: run them as root (make test)");
        }

        var missing = Tools.Where(t => !OnPath(t.Tool)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"missing {string.Join(", ", missing.Select(m => m.Tool))}: run scripts/deps.sh or install " +
                string.Join(", ", missing.Select(m => m.Package).Distinct()));
        }

        Required(await Docker.ScriptAsync("dockerd.sh", TimeSpan.FromMinutes(2), "start"), "dockerd.sh start");
        Required(await Docker.ScriptAsync("base-image.sh", TimeSpan.FromMinutes(10)), "base-image.sh");
        Required(await Docker.ScriptAsync("publish.sh", TimeSpan.FromMinutes(5), "local"), "publish.sh local");
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, tool)));

    private static void Required(CommandResult result, string step)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"test environment not ready: scripts/{step} failed\n{result.Describe()}");
        }
    }
}
