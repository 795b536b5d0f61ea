using Csvol.Linux;
using Csvol.Volumes;

namespace Csvol.Backends.Disks;

/// <summary>
/// The block-device programs a cloud-disk backend runs (blkid, wipefs, mkfs, blockdev), each with an argument list,
/// never through a shell, and links resolved without following them blindly.
/// </summary>
internal static class DiskTools
{
    /// <summary>The file system blkid finds on <paramref name="device"/>, or null when it finds none.</summary>
    public static async Task<string?> ProbeAsync(string device, CancellationToken cancellationToken)
    {
        var (code, output, error) = await RunAsync("blkid", ["-p", "-o", "value", "-s", "TYPE", device], cancellationToken);
        return code switch
        {
            0 when output.Trim().Length > 0 => output.Trim(),
            0 or 2 => null, // 2: nothing identified
            _ => throw new VolumeException($"blkid could not probe {device} (exit {code}): {error.Trim()}"),
        };
    }

    /// <summary>
    /// What wipefs finds on a device blkid calls blank ("dos at 0x1fe"), or null when it finds nothing. blkid's TYPE
    /// misses partition tables (a disk made from a whole-disk snapshot has one): formatting over that loses data.
    /// </summary>
    public static async Task<string?> SignaturesAsync(string device, CancellationToken cancellationToken)
    {
        var (code, output, error) = await RunAsync("wipefs", ["--no-act", "--noheadings", "--output", "TYPE,OFFSET", device], cancellationToken);
        if (code != 0)
        {
            throw new VolumeException($"wipefs could not list the signatures on {device} (exit {code}): {error.Trim()}");
        }

        var found = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => string.Join(" at ", line.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        return string.Join(", ", found) is { Length: > 0 } text ? text : null;
    }

    public static async Task FormatAsync(string device, string fsType, CancellationToken cancellationToken)
    {
        var (program, arguments) = fsType == DiskOptions.Xfs
            ? ("mkfs.xfs", new[] { "-q", "-f", device })
            : ("mkfs.ext4", new[] { "-q", "-F", device });
        var (code, _, error) = await RunAsync(program, arguments, cancellationToken);
        if (code != 0)
        {
            throw new VolumeException($"{program} failed on {device} (exit {code}): {error.Trim()}");
        }
    }

    /// <summary>The device's size in bytes, or null when blockdev cannot tell.</summary>
    public static async Task<long?> SizeAsync(string device, CancellationToken cancellationToken)
    {
        var (code, output, _) = await RunAsync("blockdev", ["--getsize64", device], cancellationToken);
        return code == 0 && long.TryParse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var size) ? size : null;
    }

    /// <summary>The final target of <paramref name="link"/> (or the path itself), or null when nothing is there.</summary>
    public static string? Resolve(string link)
    {
        try
        {
            if (!File.Exists(link) && !Directory.Exists(link) && new FileInfo(link).LinkTarget is null)
            {
                return null;
            }

            var target = File.ResolveLinkTarget(link, returnFinalTarget: true)?.FullName ?? link;
            return File.Exists(target) || Path.Exists(target) ? target : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static Task<ProgramResult> RunAsync(string program, string[] arguments, CancellationToken cancellationToken) =>
        Programs.RunAsync(program, arguments, "util-linux (blkid, wipefs, blockdev), e2fsprogs and xfsprogs", cancellationToken);
}
