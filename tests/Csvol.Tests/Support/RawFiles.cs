using System.Runtime.InteropServices;
using System.Text;

namespace Csvol.Tests.Support;

/// <summary>
/// Makes what .NET's file APIs cannot: names that are not UTF-8, and trees deeper than PATH_MAX, built one
/// directory descriptor at a time.
/// </summary>
internal static class RawFiles
{
    private const int ORdonlyDirectoryCloexec = 0x10000 | 0x80000;
    private const int OWronlyCreateExclusiveCloexec = 0x1 | 0x40 | 0x80 | 0x80000;

    /// <summary>Creates an empty file named by raw bytes (no NUL) in <paramref name="directory"/>.</summary>
    public static void CreateFile(string directory, byte[] name)
    {
        var parent = OpenDirectory(directory);
        try
        {
            Close(Check(openat(parent, Terminated(name), OWronlyCreateExclusiveCloexec, 0x1A4), "create file"));
        }
        finally
        {
            Close(parent);
        }
    }

    /// <summary>Creates a directory named by raw bytes (no NUL) in <paramref name="directory"/>.</summary>
    public static void CreateDirectory(string directory, byte[] name)
    {
        var parent = OpenDirectory(directory);
        try
        {
            Check(mkdirat(parent, Terminated(name), 0x1ED), "create directory");
        }
        finally
        {
            Close(parent);
        }
    }

    /// <summary>A chain of <paramref name="depth"/> directories named <paramref name="name"/> below <paramref name="root"/>, each holding a file "f".</summary>
    public static void CreateDeepChain(string root, string name, int depth)
    {
        var directory = Terminated(Encoding.UTF8.GetBytes(name));
        var file = Terminated("f"u8.ToArray());
        var current = OpenDirectory(root);
        try
        {
            for (var level = 0; level < depth; level++)
            {
                Check(mkdirat(current, directory, 0x1ED), "create directory");
                var next = Check(openat(current, directory, ORdonlyDirectoryCloexec, 0), "open directory");
                Close(current);
                current = next;
                Close(Check(openat(current, file, OWronlyCreateExclusiveCloexec, 0x1A4), "create file"));
            }
        }
        finally
        {
            Close(current);
        }
    }

    private static int OpenDirectory(string path) =>
        Check(openat(-100, Terminated(Encoding.UTF8.GetBytes(path)), ORdonlyDirectoryCloexec, 0), "open " + path);

    private static byte[] Terminated(byte[] name) => [.. name, 0];

    private static int Check(int result, string operation)
    {
        Assert.True(result >= 0, $"{operation}: errno {Marshal.GetLastPInvokeError()}");
        return result;
    }

    private static void Close(int fd) => _ = close(fd);

    // DllImport, not LibraryImport: the test project does not allow unsafe code, and byte arrays need no marshalling.
#pragma warning disable SYSLIB1054, CA5392, IDE1006
    [DllImport("libc", SetLastError = true)]
    private static extern int openat(int directory, byte[] path, int flags, uint mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int mkdirat(int directory, byte[] path, uint mode);

    [DllImport("libc")]
    private static extern int close(int fd);
#pragma warning restore SYSLIB1054, CA5392, IDE1006
}
