namespace Csvol.EndToEnd.Harness;

/// <summary>One running csvol the tests drive through dockerd, managed or unmanaged.</summary>
public interface IPluginUnderTest
{
    /// <summary>What <c>docker volume create -d</c> takes.</summary>
    string Driver { get; }

    /// <summary>The plugin's CSVOL_STATE_DIR as seen from the host.</summary>
    string HostStateDirectory { get; }

    /// <summary>Where volume <paramref name="name"/> is mounted as seen from the host (in /proc/self/mountinfo).</summary>
    string HostMountpointOf(string name);
}

public static class PluginUnderTestExtensions
{
    /// <summary>Host path of a dir volume's data (LocalBackend keeps it in data/ under the state directory).</summary>
    public static string HostDataDirectoryOf(this IPluginUnderTest plugin, string name) =>
        Path.Combine(plugin.HostStateDirectory, "data", name);
}
