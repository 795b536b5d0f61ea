using System.Diagnostics;

namespace Csvol.FakeCloud.Ec2;

/// <summary>
/// Backs attached volumes with a sparse file and a real loop device, and names it the way a Nitro
/// instance does: <c>{root}/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol{hex}</c> and
/// <c>{root}/{device name}</c> link to <c>/dev/loopN</c>; a loop device's serial cannot be set, so
/// <c>{root}/sys/block/loopN/device/serial</c> holds <c>vol{hex}</c>, where NVMe keeps it.
/// </summary>
internal sealed class BlockDevices(string dataDirectory, string deviceRoot)
{
    private const long GiB = 1L << 30;

    /// <summary>
    /// Attach as a Xen instance does (blkfront): only <c>{root}/{device name}</c>, no by-id link, and a sysfs device
    /// with <c>devtype</c> "vbd" and no serial.
    /// </summary>
    public bool Xen { get; set; }

    public string DataFile(string volumeId) => Path.Combine(dataDirectory, volumeId + ".img");

    public string ByIdLink(string volumeId) =>
        Path.Combine(deviceRoot, "disk", "by-id", "nvme-Amazon_Elastic_Block_Store_" + Serial(volumeId));

    public static string Serial(string volumeId) => volumeId.Replace("-", "", StringComparison.Ordinal);

    /// <summary>Creates the volume's file once (sparse, kept across detach and attach) or grows it to <paramref name="sizeGiB"/>.</summary>
    public void EnsureFile(string volumeId, int sizeGiB, string? copyFrom)
    {
        Directory.CreateDirectory(dataDirectory);
        var file = DataFile(volumeId);
        if (!File.Exists(file) && copyFrom is not null && File.Exists(copyFrom))
        {
            File.Copy(copyFrom, file);
        }

        using var stream = new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite);
        if (stream.Length < sizeGiB * GiB)
        {
            stream.SetLength(sizeGiB * GiB);
        }
    }

    public async Task<string> AttachAsync(string volumeId, string deviceName, int sizeGiB, CancellationToken cancellationToken)
    {
        EnsureFile(volumeId, sizeGiB, copyFrom: null);
        var loop = (await RunAsync(cancellationToken, "losetup", "--find", "--show", DataFile(volumeId))).Trim();
        try
        {
            if (!Xen)
            {
                Link(ByIdLink(volumeId), loop);
            }

            Link(DeviceLink(deviceName), loop);
            var sys = SysDirectory(loop);
            Directory.CreateDirectory(sys);
            await File.WriteAllTextAsync(Path.Combine(sys, Xen ? "devtype" : "serial"), (Xen ? "vbd" : Serial(volumeId)) + "\n", cancellationToken);
            return loop;
        }
        catch
        {
            await DetachAsync(volumeId, deviceName, loop, CancellationToken.None);
            throw;
        }
    }

    public async Task DetachAsync(string volumeId, string deviceName, string loop, CancellationToken cancellationToken)
    {
        if (File.Exists(ByIdLink(volumeId)) || new FileInfo(ByIdLink(volumeId)).LinkTarget is not null)
        {
            File.Delete(ByIdLink(volumeId));
        }
        File.Delete(DeviceLink(deviceName));
        var sys = Path.GetDirectoryName(SysDirectory(loop))!;
        if (Directory.Exists(sys))
        {
            Directory.Delete(sys, recursive: true);
        }

        _ = await RunAsync(cancellationToken, "losetup", "--detach", loop);
    }

    /// <summary>Tells the kernel the file grew (ModifyVolume of an attached volume).</summary>
    public Task RefreshSizeAsync(string loop, CancellationToken cancellationToken) =>
        RunAsync(cancellationToken, "losetup", "--set-capacity", loop);

    /// <summary>Deletes the data file, if the volume was ever attached (before the first attach the directory may not exist).</summary>
    public void DeleteFile(string volumeId)
    {
        if (Directory.Exists(dataDirectory))
        {
            File.Delete(DataFile(volumeId));
        }
    }

    public void DeleteAllFiles()
    {
        if (Directory.Exists(dataDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(dataDirectory, "*.img"))
            {
                File.Delete(file);
            }
        }
    }

    private string DeviceLink(string deviceName) =>
        Path.Combine(deviceRoot, deviceName.StartsWith("/dev/", StringComparison.Ordinal) ? deviceName[5..] : deviceName.TrimStart('/'));

    private string SysDirectory(string loop) => Path.Combine(deviceRoot, "sys", "block", Path.GetFileName(loop), "device");

    private static void Link(string path, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Delete(path);
        _ = File.CreateSymbolicLink(path, target);
    }

    private static async Task<string> RunAsync(CancellationToken cancellationToken, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}: {await stderr}");
    }
}
