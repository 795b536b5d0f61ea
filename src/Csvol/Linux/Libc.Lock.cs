using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Csvol.Linux;

// The calls behind the state directory lock and the resolution of configured paths.
internal static partial class Libc
{
    public const int EWOULDBLOCK = 11;

    private const int OReadWrite = 2;
    private const int OCreate = 0x40;
    private const int ONoFollow = 0x20000;
    private const int OCloexec = 0x80000;
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenCreateNative(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FlockNative(SafeFileHandle file, int operation);

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealpathNative(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void FreeNative(nint pointer);

    /// <summary>
    /// Opens (creating, mode 0600) a file to lock, without following a symlink and without .NET's own advisory
    /// lock: .NET flocks every file it opens, which would make a second process fail before it could read who holds it.
    /// </summary>
    public static SafeFileHandle OpenLockFile(string path)
    {
        var fd = OpenCreateNative(path, OReadWrite | OCreate | ONoFollow | OCloexec, 0b110_000_000);
        return fd >= 0
            ? new SafeFileHandle(fd, ownsHandle: true)
            : throw new ErrnoException($"open {path}", Marshal.GetLastPInvokeError());
    }

    /// <summary>flock(LOCK_EX | LOCK_NB): false when another open file holds the lock. Released when the file is closed.</summary>
    public static bool TryLockExclusive(SafeFileHandle file)
    {
        if (FlockNative(file, LockExclusive | LockNonBlocking) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == EWOULDBLOCK ? false : throw new ErrnoException("flock", errno);
    }

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
