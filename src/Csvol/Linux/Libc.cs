using System.Runtime.InteropServices;

namespace Csvol.Linux;

/// <summary>The few system calls .NET does not expose. Every call reports errno as an exception.</summary>
internal static partial class Libc
{
    public const int EINVAL = 22;
    public const int ENOENT = 2;
    public const int EBUSY = 16;
    public const int EPERM = 1;
    public const int EACCES = 13;
    public const int ESTALE = 116;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string? fsType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LchownNative(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(int fd);

    public static void Mount(string source, string target, string? fsType, MountFlags flags, string? data)
    {
        if (MountNative(source, target, fsType, (ulong)flags, data) != 0)
        {
            throw new ErrnoException($"mount {source} on {target}", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>umount2 without following a symlink at <paramref name="target"/>; returns errno (0 on success).</summary>
    public static int TryUnmount(string target, UnmountFlags flags) =>
        Umount2Native(target, (int)(flags | UnmountFlags.NoFollow)) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static void Lchown(string path, uint owner, uint group)
    {
        if (LchownNative(path, owner, group) != 0)
        {
            throw new ErrnoException($"chown {owner}:{group} {path}", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Makes a rename or unlink inside <paramref name="directory"/> durable.</summary>
    public static void FsyncDirectory(string directory)
    {
        var fd = OpenDirectory(directory);
        try
        {
            if (FsyncNative(fd) != 0)
            {
                throw new ErrnoException($"fsync directory {directory}", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            CloseDescriptor(fd);
        }
    }
}

[Flags]
internal enum MountFlags : ulong
{
    None = 0,
    ReadOnly = 1,
    NoSuid = 2,
    NoDev = 4,
    NoExec = 8,
    Remount = 32,
    Bind = 4096,
    Recursive = 16384,
}

[Flags]
internal enum UnmountFlags
{
    None = 0,

    /// <summary>MNT_FORCE: a network file system aborts the requests in flight (NFS: to a server that does not answer).</summary>
    Force = 1,
    Detach = 2,
    NoFollow = 8,
}

internal sealed class ErrnoException(string operation, int errno)
    : IOException($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public int Errno { get; } = errno;
}
