using Csvol.Linux;

namespace Csvol.Volumes;

/// <summary>Whole-file replacement that a crash at any instant leaves either old or new, never torn.</summary>
internal static class DurableFile
{
    public const string TempSuffix = ".tmp";

    /// <remarks>
    /// Temp file and rename always (a crash never tears the file); fsync of the file and the directory only for
    /// <see cref="Durability.PowerLoss"/>: about a third of a Mount+Unmount pair, for state a reboot voids anyway.
    /// </remarks>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> contents, Durability durability)
    {
        var directory = Path.GetDirectoryName(path)!;
        var temp = Path.Combine(directory, "." + Path.GetFileName(path) + TempSuffix);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1))
        {
            stream.Write(contents);
            stream.Flush(flushToDisk: durability == Durability.PowerLoss);
        }

        File.Move(temp, path, overwrite: true);
        if (durability == Durability.PowerLoss)
        {
            Libc.FsyncDirectory(directory);
        }
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
