using System.Diagnostics;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// The volumes and containers one test creates through one plugin, with unique names; disposing removes them
/// (containers first, so the volumes are free).
/// </summary>
public sealed class DockerScope(IPluginUnderTest plugin) : IAsyncDisposable
{
    private readonly List<string> _volumes = [];
    private readonly List<string> _containers = [];

    public string NewVolumeName()
    {
        var name = "e2e-" + Guid.NewGuid().ToString("N")[..12];
        lock (_volumes)
        {
            _volumes.Add(name);
        }

        return name;
    }

    /// <summary><c>docker volume create -d DRIVER -o OPTION... NAME</c>; returns the name.</summary>
    public async Task<string> CreateVolumeAsync(params string[] options)
    {
        var name = NewVolumeName();
        (await TryCreateVolumeAsync(name, options)).MustSucceed();
        return name;
    }

    public Task<CommandResult> TryCreateVolumeAsync(string name, params string[] options) =>
        Docker.RunAsync(["volume", "create", "-d", plugin.Driver, .. options.SelectMany(o => new[] { "-o", o }), "--", name]);

    /// <summary><c>docker run --rm OPTIONS IMAGE sh -c SCRIPT</c>, for a short-lived container.</summary>
    public Task<CommandResult> RunAsync(string[] runOptions, string script) =>
        Docker.RunAsync(["run", "--rm", "--label", LabelValue, .. runOptions, Docker.Image, "sh", "-c", script]);

    /// <summary>Starts a long-running container (<c>docker run -d</c>); returns its name.</summary>
    public async Task<string> StartAsync(string[] runOptions, string script = "sleep 300")
    {
        var name = "e2e-c-" + Guid.NewGuid().ToString("N")[..12];
        lock (_containers)
        {
            _containers.Add(name);
        }

        await Docker.MustAsync(["run", "-d", "--name", name, "--label", LabelValue, .. runOptions, Docker.Image, "sh", "-c", script]);
        return name;
    }

    /// <summary>Runs a command in a running container until it succeeds (e.g. a file appeared), bounded.</summary>
    public static async Task<CommandResult> ExecUntilAsync(string container, string script, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var result = await Docker.RunAsync("exec", container, "sh", "-c", script);
            if (result.Succeeded || waited.Elapsed > timeout)
            {
                return result;
            }

            await Task.Delay(200);
        }
    }

    /// <summary>A key of Status in <c>docker volume inspect</c>.</summary>
    public static Task<string> StatusAsync(string volume, string key) =>
        Docker.MustAsync("volume", "inspect", "-f", "{{index .Status \"" + key + "\"}}", volume);

    public async Task RemoveContainerAsync(string container) =>
        await Docker.MustAsync("rm", "-f", container);

    public async ValueTask DisposeAsync()
    {
        string[] containers, volumes;
        lock (_containers)
        {
            containers = [.. _containers];
        }

        lock (_volumes)
        {
            volumes = [.. _volumes];
        }

        if (containers.Length > 0)
        {
            await Docker.RunAsync(["rm", "-f", .. containers]);
        }

        foreach (var volume in volumes)
        {
            await Docker.RunAsync("volume", "rm", "-f", volume);
        }
    }

    private string LabelValue => Docker.Label + "=" + plugin.Driver;
}
