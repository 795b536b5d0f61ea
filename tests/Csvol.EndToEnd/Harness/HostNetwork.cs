using System.Globalization;

namespace Csvol.EndToEnd.Harness;

/// <summary>
/// The host's links and routes, and the private dockerd's network namespace: tests must leave the first as they
/// found them, which the second makes possible (see scripts/dockerd.sh).
/// </summary>
public static class HostNetwork
{
    private const string PidFile = "/run/csvol-test/dockerd.pid";

    /// <summary><c>ip -br link</c>, <c>ip route</c> and <c>ip -6 route</c> of the host, one text.</summary>
    public static async Task<string> SnapshotAsync()
    {
        string[][] commands = [["-br", "link"], ["route"], ["-6", "route"]];
        var parts = new List<string>();
        foreach (var arguments in commands)
        {
            var result = (await Cli.RunAsync("ip", arguments)).MustSucceed();
            parts.Add("# " + result.Command + "\n" + result.StdOut.TrimEnd());
        }

        return string.Join('\n', parts);
    }

    /// <summary>The network namespace (<c>net:[inode]</c>) of the private dockerd named by its pidfile.</summary>
    public static async Task<string> PrivateDockerdNamespaceAsync()
    {
        var pid = int.Parse((await File.ReadAllTextAsync(PidFile)).Trim(), CultureInfo.InvariantCulture);
        return NamespaceOf($"/proc/{pid}");
    }

    /// <summary>The network namespace of this test process: the host's.</summary>
    public static string OwnNamespace() => NamespaceOf("/proc/self");

    private static string NamespaceOf(string process) =>
        new FileInfo(process + "/ns/net").LinkTarget
        ?? throw new InvalidOperationException($"{process}/ns/net is not a link");
}
