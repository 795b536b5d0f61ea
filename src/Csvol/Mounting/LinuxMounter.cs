using Csvol.Linux;

namespace Csvol.Mounting;

internal sealed class LinuxMounter : IMounter
{
    public void Mount(string source, string target, string? fsType, MountFlags flags, string? data) =>
        Libc.Mount(source, target, fsType, flags, data);

    public void Unmount(string target)
    {
        var errno = Libc.TryUnmount(target, UnmountFlags.None);
        switch (errno)
        {
            case 0:
            case Libc.EINVAL: // not a mount point: already unmounted
            case Libc.ENOENT:
                return;
            case Libc.EBUSY:
                throw new MountBusyException(target);
            default:
                throw new ErrnoException($"umount {target}", errno);
        }
    }

    public IReadOnlySet<string> Mountpoints() => MountTable.ReadMountpoints("/proc/self/mountinfo");
}

/// <summary>umount(2) said EBUSY: a process has files open or its working directory under <see cref="Target"/>.</summary>
internal sealed class MountBusyException(string target)
    : IOException($"cannot unmount {target}: it is busy (a process still has files open or its working directory there)")
{
    public string Target { get; } = target;
}
