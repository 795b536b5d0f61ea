namespace Csvol.FakeCloud.Devices;

/// <summary>
/// How a cloud's guest names one attached disk: symlinks to the loop device, and a fake sysfs
/// directory with files (paths relative to it) a backend reads to recognise the disk.
/// </summary>
/// <param name="Links">Absolute paths made into symlinks to <c>/dev/loopN</c>.</param>
/// <param name="SysDirectory">Created on attach and removed whole on detach.</param>
/// <param name="SysFiles">Relative path under <paramref name="SysDirectory"/> → content.</param>
internal sealed record DeviceNames(IReadOnlyList<string> Links, string SysDirectory, IReadOnlyDictionary<string, string> SysFiles);
