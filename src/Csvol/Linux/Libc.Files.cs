using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Csvol.Linux;

/// <summary>
/// Files relative to directory descriptors, for walking a tree that others can change meanwhile. Names are raw
/// bytes ending in NUL: Linux file names need not be UTF-8, and a name decoded to a string and encoded back
/// would not name the same entry.
/// </summary>
internal static partial class Libc
{
    private const int AtFdCwd = -100;
    private const int OpenDirectoryNoFollow = 0x10000 | 0x20000 | 0x80000; // O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
    private const int OpenDirectoryFollow = 0x10000 | 0x80000;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtRemoveDir = 0x200;
    private const int AtNoAutomount = 0x800;
    private const int AtEmptyPath = 0x1000;
    private const int AtStatxForceSync = 0x2000;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;
    private const uint StatxMntId = 0x1000;

    // Linux revalidates with the server only when a field it caches is asked for (the mode, times, size): type and inode alone are answered from the cache.
    private const uint StatxBasicStats = 0x7FF;
    private const int SeekSet = 0;
    private const int DirentNameOffset = 19; // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[]
    private const int DirentReclenOffset = 16;

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static partial int OpenAtNative(int directory, ReadOnlySpan<byte> path, int flags);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int StatxNative(int directory, ReadOnlySpan<byte> path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static partial int UnlinkAtNative(int directory, ReadOnlySpan<byte> path, int flags);

    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    private static partial nint GetDents64Native(int fd, Span<byte> buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LseekNative(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseDescriptorNative(int fd);

    /// <summary>A directory entry's name as <see cref="TryStatAt"/> and the other calls here take it: UTF-8, NUL-terminated.</summary>
    public static byte[] EntryName(string name) => Encoding.UTF8.GetBytes(name + "\0");

    /// <summary>Opens a directory by path, following symlinks in it: only for paths csvol itself chose.</summary>
    public static int OpenDirectory(string path)
    {
        var fd = OpenAtNative(AtFdCwd, EntryName(path), OpenDirectoryFollow);
        return fd >= 0 ? fd : throw new ErrnoException($"open directory {path}", Marshal.GetLastPInvokeError());
    }

    /// <summary>openat(O_DIRECTORY|O_NOFOLLOW): ELOOP or ENOTDIR when <paramref name="name"/> is not a directory now.</summary>
    /// <returns>errno, 0 on success.</returns>
    public static int TryOpenDirectoryAt(int directory, ReadOnlySpan<byte> name, out int fd)
    {
        fd = OpenAtNative(directory, name, OpenDirectoryNoFollow);
        return fd >= 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// statx of <paramref name="name"/> in <paramref name="directory"/>, not following a symlink nor triggering an
    /// automount; an empty name (<c>"\0"u8</c>) is the directory itself.
    /// </summary>
    /// <returns>errno, 0 on success.</returns>
    public static int TryStatAt(int directory, ReadOnlySpan<byte> name, out FileStatus status)
    {
        var flags = AtSymlinkNoFollow | AtNoAutomount | (name[0] == 0 ? AtEmptyPath : 0);
        if (StatxNative(directory, name, flags, StatxType | StatxIno | StatxMntId, out var buffer) != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }

        if ((buffer.Mask & StatxMntId) == 0)
        {
            throw new IOException("statx reports no mount ID, which csvol needs to stay on one mount while deleting; it needs Linux 5.8 or later");
        }

        status = new FileStatus(buffer.Mode, buffer.Inode, ((ulong)buffer.DevMajor << 32) | buffer.DevMinor, buffer.MountId);
        return 0;
    }

    /// <summary>
    /// statx of <paramref name="path"/> with AT_STATX_FORCE_SYNC: a network file system asks its server rather than
    /// answering from its cache, so a stale handle (ESTALE) or a server that does not answer shows here.
    /// </summary>
    /// <returns>errno, 0 on success.</returns>
    public static int TryStatFromServer(string path) =>
        StatxNative(AtFdCwd, EntryName(path), AtStatxForceSync, StatxBasicStats, out _) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>unlinkat: a symlink is removed itself; with <paramref name="directory"/>, an empty directory (AT_REMOVEDIR).</summary>
    /// <returns>errno, 0 on success.</returns>
    public static int TryUnlinkAt(int parent, ReadOnlySpan<byte> name, bool directory) =>
        UnlinkAtNative(parent, name, directory ? AtRemoveDir : 0) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Every entry of an open directory but "." and "..", read from its start.</summary>
    /// <returns>errno, 0 on success.</returns>
    public static int TryReadEntryNames(int directory, Queue<byte[]> names)
    {
        if (LseekNative(directory, 0, SeekSet) < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);
        try
        {
            while (true)
            {
                var read = GetDents64Native(directory, buffer, (nuint)buffer.Length);
                if (read <= 0)
                {
                    return read == 0 ? 0 : Marshal.GetLastPInvokeError();
                }

                for (var at = 0; at < read;)
                {
                    var record = buffer.AsSpan(at, BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(at + DirentReclenOffset)));
                    var name = record[DirentNameOffset..];
                    name = name[..(name.IndexOf((byte)0) + 1)];
                    if (!name.SequenceEqual(".\0"u8) && !name.SequenceEqual("..\0"u8))
                    {
                        names.Enqueue(name.ToArray());
                    }

                    at += record.Length;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static void CloseDescriptor(int fd) => _ = CloseDescriptorNative(fd);

    /// <summary>struct statx (include/uapi/linux/stat.h): the same 256 bytes on every architecture.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(0x00)] public uint Mask;
        [FieldOffset(0x1C)] public ushort Mode;
        [FieldOffset(0x20)] public ulong Inode;
        [FieldOffset(0x88)] public uint DevMajor;
        [FieldOffset(0x8C)] public uint DevMinor;
        [FieldOffset(0x90)] public ulong MountId;
    }
}

/// <summary>What a walk needs to know of an entry: its type, identity, and the mount it is on.</summary>
internal readonly record struct FileStatus(ushort Mode, ulong Inode, ulong Device, ulong MountId)
{
    private const ushort TypeMask = 0xF000; // S_IFMT
    private const ushort DirectoryType = 0x4000; // S_IFDIR

    public bool IsDirectory => (Mode & TypeMask) == DirectoryType;

    /// <summary>The same file: device and inode.</summary>
    public bool IsSameFile(FileStatus other) => Device == other.Device && Inode == other.Inode;

    /// <summary>On the same mount of the same file system: a bind mount of a directory of the same device has another mount ID.</summary>
    public bool IsOnSameMount(FileStatus other) => Device == other.Device && MountId == other.MountId;
}
