using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Csvol.FakeCloud.Devices;

/// <summary>
/// Copies a disk's data file keeping its holes. File.Copy wrote a 1 GiB sparse file out in full
/// (2.4 s and a real GiB on disk per snapshot, measured here), and reading every hole took 6 s;
/// <c>lseek(SEEK_DATA/SEEK_HOLE)</c> visits only the written extents.
/// </summary>
internal static partial class SparseFiles
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int NoMoreData = 6; // ENXIO

    public static void Copy(string from, string to)
    {
        using var source = File.OpenHandle(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var target = File.OpenHandle(to, FileMode.Create, FileAccess.Write);
        var length = RandomAccess.GetLength(source);
        var buffer = new byte[1 << 20];
        var position = 0L;
        while (position < length)
        {
            var data = Seek(source, position, SeekData);
            if (data < 0)
            {
                break;
            }

            var hole = Seek(source, data, SeekHole);
            for (var offset = data; offset < hole;)
            {
                var read = RandomAccess.Read(source, buffer.AsSpan(0, (int)Math.Min(buffer.Length, hole - offset)), offset);
                if (read == 0)
                {
                    break;
                }

                RandomAccess.Write(target, buffer.AsSpan(0, read), offset);
                offset += read;
            }

            position = hole;
        }

        RandomAccess.SetLength(target, length);
    }

    /// <returns>The offset, or -1 when no data follows <paramref name="offset"/>.</returns>
    private static long Seek(SafeFileHandle file, long offset, int whence)
    {
        var result = LSeek(file, offset, whence);
        if (result >= 0)
        {
            return result;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == NoMoreData ? -1 : throw new IOException($"lseek({offset}, {whence}) failed: errno {errno}");
    }

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(SafeFileHandle file, long offset, int whence);
}
