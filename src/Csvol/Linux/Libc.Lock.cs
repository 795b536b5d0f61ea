using System.Runtime.InteropServices;

namespace Csvol.Linux;

// The calls behind the resolution of configured paths.
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealpathNative(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void FreeNative(nint pointer);

    /// <summary>realpath(3): the absolute path with every symlink, "." and ".." resolved, as the kernel's mountinfo names it.</summary>
    public static string RealPath(string path)
    {
        var resolved = RealpathNative(path, 0);
        if (resolved == 0)
        {
            throw new ErrnoException($"realpath {path}", Marshal.GetLastPInvokeError());
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved)!;
        }
        finally
        {
            FreeNative(resolved);
        }
    }
}
