using Csvol.Linux;
using Csvol.Volumes;

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
                throw new VolumeException(
                    $"cannot unmount {target}: it is busy (a process still has files open or its working directory there)");
            default:
                throw new ErrnoException($"umount {target}", errno);
        }
    }

    public IReadOnlySet<string> Mountpoints() => MountTable.ReadMountpoints("/proc/self/mountinfo");
}
