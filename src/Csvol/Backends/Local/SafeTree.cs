using System.Text;
using Csvol.Linux;

namespace Csvol.Backends.Local;

/// <summary>
/// Deletes a directory tree through directory descriptors, never by path: whatever a user inside the tree does
/// meanwhile (swap a directory for a symlink to somewhere else, say), deleting never leaves the tree.
/// </summary>
/// <remarks>
/// Each entry is examined with statx relative to its directory's descriptor, not following symlinks. A directory
/// is entered only through openat(O_NOFOLLOW) on that descriptor, and only if what opened is the directory that
/// was examined (device and inode) on the tree's own mount; anything else is examined again, so an entry swapped
/// for a symlink is unlinked as the symlink it now is. Entries on another mount (another file system, or a bind
/// mount of this one) are left in place with their ancestors, and reported. Depth is an explicit stack, not
/// recursion; beyond <see cref="MaxOpenDirectories"/> the farthest ancestors' descriptors are closed, and each is
/// reopened through ".." of its child, checked to be the same directory, when the walk returns to it.
/// </remarks>
internal static class SafeTree
{
    private const int MaxOpenDirectories = 32;
    private const int MaxAttemptsPerEntry = 100; // an entry swapped faster than it can be examined
    private const int MaxPassesPerDirectory = 100; // a directory refilled faster than it can be emptied
    private const int ENOENT = 2;
    private const int EEXIST = 17;
    private const int ENOTDIR = 20;
    private const int EISDIR = 21;
    private const int ENOTEMPTY = 39;
    private const int ELOOP = 40;

    /// <summary>Deletes <paramref name="root"/> (a directory, or a symlink or file, which is unlinked) and all below it.</summary>
    /// <returns>
    /// The paths of mount points left in place, not entered (they and their ancestors up to <paramref name="root"/>
    /// remain); empty when all is gone, or when <paramref name="root"/> did not exist.
    /// </returns>
    /// <exception cref="IOException">An entry could not be deleted; the walk stopped there.</exception>
    public static IReadOnlyList<string> Delete(string root)
    {
        var fullPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        var parentPath = Path.GetDirectoryName(fullPath) ?? throw new IOException("refusing to delete /");
        var left = new List<string>();
        var stack = new List<Frame>();
        try
        {
            // The walk starts in the root's parent, so the root is examined like any entry: a symlink there is
            // unlinked, a mount point left.
            var start = new Frame(Libc.OpenDirectory(parentPath), parentPath, Libc.EntryName(Path.GetFileName(fullPath)));
            stack.Add(start);
            while (stack.Count > 0)
            {
                var frame = stack[^1];
                if (frame.Pending.TryDequeue(out var name))
                {
                    if (Examine(frame, name, start.Status, left) is { } child)
                    {
                        stack.Add(child);
                        CloseFarthestAncestor(stack);
                    }
                }
                else if (stack.Count == 1)
                {
                    break;
                }
                else
                {
                    Leave(stack);
                }
            }
        }
        finally
        {
            foreach (var frame in stack.Where(f => f.Fd >= 0))
            {
                Libc.CloseDescriptor(frame.Fd);
            }
        }

        return left;
    }

    /// <returns>The directory to descend into, open and listed; null when the entry is dealt with.</returns>
    private static Frame? Examine(Frame parent, byte[] name, FileStatus tree, List<string> left)
    {
        for (var attempt = 0; attempt < MaxAttemptsPerEntry; attempt++)
        {
            var errno = Libc.TryStatAt(parent.Fd, name, out var status);
            if (errno == ENOENT)
            {
                return null;
            }

            Check(errno, "examine", parent, name);
            if (!status.IsOnSameMount(tree))
            {
                left.Add(parent.PathOf(name));
                parent.KeepsSomething = true;
                return null;
            }

            if (!status.IsDirectory)
            {
                errno = Libc.TryUnlinkAt(parent.Fd, name, directory: false);
                if (errno == EISDIR)
                {
                    continue; // a directory took its place since it was examined
                }

                Check(errno == ENOENT ? 0 : errno, "delete", parent, name);
                return null;
            }

            errno = Libc.TryOpenDirectoryAt(parent.Fd, name, out var fd);
            if (errno is ELOOP or ENOTDIR)
            {
                continue; // no longer a directory: examined again and unlinked as what it is now
            }

            if (errno == ENOENT)
            {
                return null;
            }

            Check(errno, "open directory", parent, name);
            var child = new Frame(fd, parent, name);
            errno = Libc.TryStatAt(fd, "\0"u8, out var opened);
            if (errno == 0 && opened.IsSameFile(status) && opened.IsOnSameMount(tree))
            {
                child.Status = opened;
                errno = Libc.TryReadEntryNames(fd, child.Pending);
                if (errno == 0)
                {
                    return child;
                }

                Libc.CloseDescriptor(fd);
                Check(errno, "read directory", child);
            }

            Libc.CloseDescriptor(fd);
            Check(errno, "examine", parent, name); // else another directory took its place: examine that one
        }

        throw new IOException($"{parent.PathOf(name)} changed under the delete {MaxAttemptsPerEntry} times in a row; stopped");
    }

    /// <summary>The top directory has been walked: remove it, or walk it again if entries appeared in it.</summary>
    private static void Leave(List<Frame> stack)
    {
        var frame = stack[^1];
        var parent = stack[^2];
        if (parent.Fd < 0)
        {
            Reopen(parent, frame);
        }

        if (frame.KeepsSomething)
        {
            parent.KeepsSomething = true;
            Pop(stack);
            return;
        }

        var errno = Libc.TryUnlinkAt(parent.Fd, frame.Name, directory: true);
        if (errno is 0 or ENOENT)
        {
            Pop(stack);
            return;
        }

        if (errno is not (ENOTEMPTY or EEXIST or ENOTDIR))
        {
            Check(errno, "delete directory", frame);
        }

        if (errno != ENOTDIR)
        {
            if (++frame.Passes > MaxPassesPerDirectory)
            {
                throw new IOException($"{frame.Path} was refilled {MaxPassesPerDirectory} times while being deleted; stopped");
            }

            Check(Libc.TryReadEntryNames(frame.Fd, frame.Pending), "read directory", frame);
            if (frame.Pending.Count > 0)
            {
                return; // entries appeared in it: walk it again
            }
        }

        // This directory is empty, yet its name is not: something else was moved there, and this directory lives on
        // under another name. Examine the name again; the directory is met again by its new name, if in the tree.
        if (++parent.Passes > MaxPassesPerDirectory)
        {
            throw new IOException($"entries of {parent.Path} were swapped {MaxPassesPerDirectory} times while being deleted; stopped");
        }

        parent.Pending.Enqueue(frame.Name);
        Pop(stack);
    }

    private static void Pop(List<Frame> stack)
    {
        Libc.CloseDescriptor(stack[^1].Fd);
        stack.RemoveAt(stack.Count - 1);
    }

    /// <summary>Bounds open descriptors in a deep tree by closing the one farthest from the top; <see cref="Reopen"/> undoes it.</summary>
    private static void CloseFarthestAncestor(List<Frame> stack)
    {
        if (stack.Count > MaxOpenDirectories && stack[stack.Count - MaxOpenDirectories - 1] is { Fd: >= 0 } farthest)
        {
            Libc.CloseDescriptor(farthest.Fd);
            farthest.Fd = -1;
        }
    }

    private static void Reopen(Frame parent, Frame child)
    {
        Check(Libc.TryOpenDirectoryAt(child.Fd, "..\0"u8, out var fd), "open directory", parent);
        var errno = Libc.TryStatAt(fd, "\0"u8, out var reopened);
        if (errno != 0 || !reopened.IsSameFile(parent.Status))
        {
            Libc.CloseDescriptor(fd);
            Check(errno, "examine", parent);
            throw new IOException($"{child.Path} was moved out of {parent.Path} while it was being deleted; stopped");
        }

        parent.Fd = fd;
    }

    private static void Check(int errno, string operation, Frame parent, byte[] name)
    {
        if (errno != 0)
        {
            throw new ErrnoException($"{operation} {parent.PathOf(name)}", errno);
        }
    }

    private static void Check(int errno, string operation, Frame directory)
    {
        if (errno != 0)
        {
            throw new ErrnoException($"{operation} {directory.Path}", errno);
        }
    }

    /// <summary>A directory being walked: its descriptor (-1 while closed to bound them), identity and entries still to examine.</summary>
    private sealed class Frame
    {
        private readonly Frame? _parent;
        private string? _path;

        /// <summary>The walk's start, the root's parent: known by path, its only entry to examine the root.</summary>
        public Frame(int fd, string path, byte[] root)
        {
            Fd = fd;
            _path = path;
            Name = [];
            Pending.Enqueue(root);
            var errno = Libc.TryStatAt(fd, "\0"u8, out var status);
            if (errno != 0)
            {
                Libc.CloseDescriptor(fd);
                Check(errno, "examine", this);
            }

            Status = status;
        }

        public Frame(int fd, Frame parent, byte[] name)
        {
            Fd = fd;
            _parent = parent;
            Name = name;
        }

        public int Fd { get; set; }

        public FileStatus Status { get; set; }

        /// <summary>Its name in its parent, NUL-terminated.</summary>
        public byte[] Name { get; }

        public Queue<byte[]> Pending { get; } = new();

        /// <summary>Something below is left in place, so this directory stays too.</summary>
        public bool KeepsSomething { get; set; }

        public int Passes { get; set; }

        /// <summary>For messages only, so built when asked: a deep tree's paths would take memory quadratic in its depth.</summary>
        public string Path
        {
            get
            {
                var unnamed = new Stack<Frame>();
                for (var frame = this; frame._path is null; frame = frame._parent!)
                {
                    unnamed.Push(frame);
                }

                while (unnamed.TryPop(out var frame))
                {
                    frame._path = frame._parent!.PathOf(frame.Name);
                }

                return _path!;
            }
        }

        public string PathOf(byte[] entry) => System.IO.Path.Join(Path, Encoding.UTF8.GetString(entry.AsSpan(0, entry.Length - 1)));
    }
}
