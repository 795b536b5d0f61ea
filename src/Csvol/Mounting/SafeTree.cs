namespace Csvol.Mounting;

/// <summary>Deletes a directory tree without ever leaving it: symlinks are unlinked, never followed.</summary>
internal static class SafeTree
{
    private static readonly EnumerationOptions Direct = new()
    {
        AttributesToSkip = 0,
        IgnoreInaccessible = false,
        RecurseSubdirectories = false,
        ReturnSpecialDirectories = false,
    };

    /// <param name="root">The tree to delete.</param>
    /// <param name="mountpoints">Mount points to refuse to descend into (another file system's data).</param>
    public static void Delete(string root, IReadOnlySet<string> mountpoints)
    {
        if (mountpoints.Contains(root))
        {
            throw new IOException($"refusing to delete {root}: a file system is mounted there");
        }

        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", Direct))
        {
            if (entry.Attributes.HasFlag(FileAttributes.ReparsePoint) || entry is FileInfo)
            {
                // unlink(2) removes a symlink itself, whatever it points at.
                File.Delete(entry.FullName);
            }
            else
            {
                Delete(entry.FullName, mountpoints);
            }
        }

        Directory.Delete(root, recursive: false);
    }
}
