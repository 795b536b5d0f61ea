using System.Diagnostics;
using Csvol.Volumes;

namespace Csvol.Backends.Ebs;

/// <summary>
/// Finds an attached volume's block device and proves it is that volume (its NVMe serial), then probes and formats it.
/// Programs run with an argument list, never through a shell.
/// </summary>
internal sealed class EbsDevices(string deviceRoot, string sysfsRoot, TimeProvider time)
{
    /// <summary>How long an attached volume's device may take to appear (udev, the NVMe driver).</summary>
    private static readonly TimeSpan AppearBound = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The device of <paramref name="volumeId"/>, attached as <paramref name="deviceName"/>, once it is proven to be that
    /// volume: on Nitro by its NVMe serial; on Xen, whose block devices carry no serial, by being the very name EC2
    /// reports for the attachment, a Xen virtual block device, and exactly the volume's size.
    /// </summary>
    public async Task<string> FindAsync(string volumeId, string? deviceName, int sizeGiB, CancellationToken cancellationToken)
    {
        var serial = volumeId.Replace("-", "", StringComparison.Ordinal); // vol-0123… is serial vol0123…
        var byId = Path.Join(deviceRoot, "disk", "by-id", "nvme-Amazon_Elastic_Block_Store_" + serial);
        var byName = deviceName is null ? null : Path.Join(deviceRoot, Path.GetFileName(deviceName));
        var candidates = byName is null ? [byId] : new[] { byId, byName };

        var deadline = time.GetUtcNow() + AppearBound;
        string? seen = null;
        while (true)
        {
            foreach (var candidate in candidates)
            {
                if (Resolve(candidate) is not { } device)
                {
                    continue;
                }

                var found = DeviceAttribute(device, "serial");
                if (found == serial)
                {
                    return device;
                }

                if (found is null && candidate == byName && DeviceAttribute(device, "devtype") == "vbd")
                {
                    var size = await SizeAsync(device, cancellationToken);
                    if (size == (long)sizeGiB << 30)
                    {
                        return device;
                    }

                    seen = $"{candidate} is Xen block device {device} of {size} bytes, not the volume's {sizeGiB} GiB";
                    continue;
                }

                seen = $"{candidate} is {device}, whose serial is {(found is null ? "unreadable" : "\"" + found + "\"")}, not \"{serial}\"";
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new VolumeException(seen is null
                    ? $"volume {volumeId} is attached but no device for it appeared within {AppearBound.TotalSeconds:0} s ({string.Join(" or ", candidates)}); is /dev bind-mounted into the plugin?"
                    : $"refusing to use a device for volume {volumeId}: {seen}; the device links are stale or point at another disk");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }

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
    /// misses partition tables (a volume made from a whole-disk snapshot has one): formatting over that loses data.
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
        var (program, arguments) = fsType == EbsOptions.Xfs
            ? ("mkfs.xfs", new[] { "-q", "-f", device })
            : ("mkfs.ext4", new[] { "-q", "-F", device });
        var (code, _, error) = await RunAsync(program, arguments, cancellationToken);
        if (code != 0)
        {
            throw new VolumeException($"{program} failed on {device} (exit {code}): {error.Trim()}");
        }
    }

    private static string? Resolve(string link)
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

    private static async Task<long?> SizeAsync(string device, CancellationToken cancellationToken)
    {
        var (code, output, _) = await RunAsync("blockdev", ["--getsize64", device], cancellationToken);
        return code == 0 && long.TryParse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var size) ? size : null;
    }

    /// <summary>An attribute of the device's sysfs device directory ("serial" on NVMe; "devtype" is "vbd" on Xen), or null.</summary>
    private string? DeviceAttribute(string device, string name)
    {
        try
        {
            return File.ReadAllText(Path.Join(sysfsRoot, "block", Path.GetFileName(device), "device", name)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(string program, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new VolumeException($"could not start {program}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new VolumeException($"could not run {program} ({ex.Message}); the plugin needs util-linux (blkid, wipefs, blockdev), e2fsprogs and xfsprogs", ex);
        }

        using var owned = process;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await output, await error);
    }
}
