using Csvol.Linux;

namespace Csvol.Mounting;

/// <summary>The kernel's mount table, as a seam: the real one is <see cref="LinuxMounter"/>.</summary>
internal interface IMounter
{
    void Mount(string source, string target, string? fsType, MountFlags flags, string? data);

    /// <summary>Unmounts <paramref name="target"/>; succeeds when nothing is mounted there.</summary>
    void Unmount(string target);

    /// <summary>Every mount point in this process's mount namespace.</summary>
    IReadOnlySet<string> Mountpoints();
}
