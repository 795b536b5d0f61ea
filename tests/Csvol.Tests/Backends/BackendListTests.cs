using Csvol.Backends;
using Csvol.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Csvol.Tests.Backends;

/// <summary>backends.list is the one list the Makefile and scripts build from; it must name exactly the backends the code has.</summary>
public sealed class BackendListTests
{
    [Fact]
    public void AvailableBackends_InBackendsList_AreExactlyTheRegisteredOnes()
    {
        var listed = File.ReadLines(Path.Combine(RepoRoot(), "backends.list"))
            .Where(line => !line.StartsWith('#') && !string.IsNullOrWhiteSpace(line))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[1] == "available")
            .Select(fields => fields[0])
            .Order(StringComparer.Ordinal);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddCsvolVolumes();

        using var provider = services.BuildServiceProvider();
        var registered = provider.GetRequiredService<BackendRegistry>().Names;

        Assert.Equal(listed, registered);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "backends.list")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("backends.list not found above " + AppContext.BaseDirectory);
    }
}
