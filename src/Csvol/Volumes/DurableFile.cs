using Csvol.Linux;

namespace Csvol.Volumes;

/// <summary>Whole-file replacement that a crash at any instant leaves either old or new, never torn.</summary>
internal static class DurableFile
{
    public const string TempSuffix = ".tmp";

    public static void WriteAtomically(string path, ReadOnlySpan<byte> contents)
    {
        var directory = Path.GetDirectoryName(path)!;
        var temp = Path.Combine(directory, "." + Path.GetFileName(path) + TempSuffix);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1))
        {
            stream.Write(contents);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        Libc.FsyncDirectory(directory);
    }

    public static void Delete(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        File.Delete(path);
        Libc.FsyncDirectory(Path.GetDirectoryName(path)!);
    }
}
