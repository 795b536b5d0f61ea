using Csvol.Backends.Local;
using Csvol.Linux;
using Csvol.Mounting;

namespace Csvol.Tests.Support;

/// <summary>A scratch directory on a real file system; unmounts whatever a test left mounted in it.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine("/tmp/csvol-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        foreach (var mountpoint in MountsUnder(Path).OrderByDescending(m => m.Length))
        {
            _ = Libc.TryUnmount(mountpoint, UnmountFlags.Detach);
        }

        if (Directory.Exists(Path))
        {
            _ = SafeTree.Delete(Path);
        }
    }

    public static IReadOnlyList<string> MountsUnder(string root) =>
        [.. File.ReadLines("/proc/self/mountinfo")
            .Select(MountTable.ParseMountpoint)
            .OfType<string>()
            .Where(m => m == root || m.StartsWith(root + "/", StringComparison.Ordinal))];

    /// <summary>How many mounts are stacked on exactly <paramref name="mountpoint"/>.</summary>
    public static int MountCount(string mountpoint) =>
        File.ReadLines("/proc/self/mountinfo").Count(l => MountTable.ParseMountpoint(l) == mountpoint);

    public static string MountOptions(string mountpoint) =>
        File.ReadLines("/proc/self/mountinfo").Last(l => MountTable.ParseMountpoint(l) == mountpoint).Split(' ')[5];
}
