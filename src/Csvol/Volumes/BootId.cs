namespace Csvol.Volumes;

/// <summary>The kernel's id of this boot: mount IDs recorded under another one are void.</summary>
internal static class BootId
{
    public const string Path = "/proc/sys/kernel/random/boot_id";

    public static string Current() => File.Exists(Path) ? File.ReadAllText(Path).Trim() : "unknown";
}
