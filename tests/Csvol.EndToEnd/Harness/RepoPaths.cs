namespace Csvol.EndToEnd.Harness;

/// <summary>Where the repository's scripts and build output are, found from the test assembly's location.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Script(string name) => Path.Combine(Root, "scripts", name);

    /// <summary>The published binary the unmanaged plugin runs, csvol/local's (scripts/publish.sh local); <c>CSVOL_BINARY</c> overrides it.</summary>
    public static string CsvolBinary =>
        Environment.GetEnvironmentVariable("CSVOL_BINARY") is { Length: > 0 } binary
            ? binary
            : Path.Combine(Root, "artifacts", "publish", "local", "csvol");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VolumeDriver.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"VolumeDriver.sln not found above {AppContext.BaseDirectory}; run the tests from the repository");
    }
}
