using Csvol.Backends;
using Csvol.Volumes;

namespace Csvol.Protocol;

/// <summary>
/// Reads <see cref="VolumeService"/>'s scope as a <see cref="VolumeScope"/>. Today the service gives Docker's string;
/// when it gives the enum, this file goes and <see cref="PluginDriver"/> takes <c>volumes.Scope</c> directly.
/// </summary>
internal static class VolumeServiceScope
{
    public static VolumeScope Of(VolumeService volumes) => volumes.Scope == "global" ? VolumeScope.Global : VolumeScope.Local;
}
