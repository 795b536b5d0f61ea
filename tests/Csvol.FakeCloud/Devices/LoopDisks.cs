using System.Diagnostics;

namespace Csvol.FakeCloud.Devices;

/// <summary>
/// What every fake cloud's attach shares: a sparse data file per disk (kept across detach and attach,
/// so data persists) behind a real loop device, exposed under the names a cloud's guest would see
/// (<see cref="DeviceNames"/>, chosen by the caller from the loop device's name).
/// </summary>
internal sealed class LoopDisks(string dataDirectory)
{
    private const long GiB = 1L << 30;

    public string DataFile(string diskId) => Path.Combine(dataDirectory, diskId + ".img");

    /// <summary>Creates the disk's file once (sparse, or a copy of <paramref name="copyFrom"/>) or grows it to <paramref name="sizeGiB"/>.</summary>
    public void EnsureFile(string diskId, int sizeGiB, string? copyFrom)
    {
        Directory.CreateDirectory(dataDirectory);
        var file = DataFile(diskId);
        if (!File.Exists(file) && copyFrom is not null && File.Exists(copyFrom))
        {
            SparseFiles.Copy(copyFrom, file);
        }

        using var stream = new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite);
        if (stream.Length < sizeGiB * GiB)
        {
            stream.SetLength(sizeGiB * GiB);
        }
    }

    /// <returns>The loop device (<c>/dev/loopN</c>) now backing the disk's file.</returns>
    public async Task<string> AttachAsync(string diskId, int sizeGiB, Func<string, DeviceNames> names, CancellationToken cancellationToken)
    {
        EnsureFile(diskId, sizeGiB, copyFrom: null);
        var loop = (await RunAsync(cancellationToken, "losetup", "--find", "--show", DataFile(diskId))).Trim();
        var named = names(loop);
        try
        {
            foreach (var link in named.Links)
            {
                Link(link, loop);
            }

            foreach (var (relative, content) in named.SysFiles)
            {
                var file = Path.Combine(named.SysDirectory, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                await File.WriteAllTextAsync(file, content, cancellationToken);
            }

            return loop;
        }
        catch
        {
            await DetachAsync(loop, named, CancellationToken.None);
            throw;
        }
    }

    public async Task DetachAsync(string loop, DeviceNames names, CancellationToken cancellationToken)
    {
        foreach (var link in names.Links)
        {
            File.Delete(link);
        }

        if (Directory.Exists(names.SysDirectory))
        {
            Directory.Delete(names.SysDirectory, recursive: true);
        }

        _ = await RunAsync(cancellationToken, "losetup", "--detach", loop);
    }

    /// <summary>Tells the kernel the file grew (a resize of an attached disk).</summary>
    public Task RefreshSizeAsync(string loop, CancellationToken cancellationToken) =>
        RunAsync(cancellationToken, "losetup", "--set-capacity", loop);

    /// <summary>Deletes the data file, if the disk ever had one (before the first attach the directory may not exist).</summary>
    public void DeleteFile(string diskId)
    {
        if (Directory.Exists(dataDirectory))
        {
            File.Delete(DataFile(diskId));
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
