namespace Csvol.EndToEnd.Harness;

/// <summary>
/// What every end-to-end test needs, prepared once per test run: the private dockerd (started if it is not
/// running), the base image and a published csvol binary. Missing tools fail the tests with what to install.
/// </summary>
public static class TestEnvironment
{
    private static readonly Lazy<Task> Prepared = new(PrepareAsync);

    public static Task EnsureAsync() => Prepared.Value;

    private static async Task PrepareAsync()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("the end-to-end tests mount file systems and run dockerd: run them as root (make test)");
        }

        Required(await Docker.ScriptAsync("deps.sh", TimeSpan.FromMinutes(10)), "deps.sh");
        Required(await Docker.ScriptAsync("dockerd.sh", TimeSpan.FromMinutes(2), "start"), "dockerd.sh start");
        Required(await Docker.ScriptAsync("base-image.sh", TimeSpan.FromMinutes(10)), "base-image.sh");
        Required(await Docker.ScriptAsync("publish.sh", TimeSpan.FromMinutes(5)), "publish.sh");
    }

    private static void Required(CommandResult result, string step)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"test environment not ready: scripts/{step} failed\n{result.Describe()}");
        }
    }
}
