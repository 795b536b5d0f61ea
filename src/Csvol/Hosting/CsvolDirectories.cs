using Csvol.Linux;

namespace Csvol.Hosting;

/// <summary>
/// The state directory and the mount root as the kernel names them, created if missing; the state directory locked
/// for this process. Every part of csvol uses these paths, never the configured ones.
/// </summary>
/// <remarks>
/// <para>
/// mountinfo lists real paths. Compared with a path that runs through a symlink, a mount inside a volume went unseen
/// (Remove deleted through it) and stale mounts were never unmounted; so both settings are resolved once, here.
/// </para>
/// <para>
/// Both are created 0700, and one that already exists open to group or others is closed to 0700 (a warning logged)
/// rather than refused: nothing legitimate needs those bits (dockerd, which hands mounts to containers, runs as root),
/// and refusing would leave the plugin down until someone finds the host path. Volumes live right below them: a
/// container may have put a set-user-ID program in one, which no host user but root may reach (CVE-2021-41091).
/// </para>
/// </remarks>
internal sealed partial class CsvolDirectories : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OpenToOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly StateDirectoryLock _lock;

    private CsvolDirectories(string stateDir, string mountRoot, StateDirectoryLock held)
    {
        StateDir = stateDir;
        MountRoot = mountRoot;
        _lock = held;
    }

    /// <summary>The state directory's real path.</summary>
    public string StateDir { get; }

    /// <summary>The mount root's real path.</summary>
    public string MountRoot { get; }

    public static CsvolDirectories Prepare(CsvolSettings settings, ILogger logger)
    {
        var stateDir = Resolve(CsvolSettings.StateDirVariable, settings.StateDir, OwnerOnly);
        CloseToOthers(stateDir, CsvolSettings.StateDirVariable, logger);

        var held = StateDirectoryLock.Acquire(stateDir, settings.StateDir, settings.Socket);
        try
        {
            var mountRoot = Resolve(CsvolSettings.MountRootVariable, settings.MountRoot, OwnerOnly);
            CloseToOthers(mountRoot, CsvolSettings.MountRootVariable, logger);
            return new CsvolDirectories(stateDir, mountRoot, held);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    public void Dispose() => _lock.Dispose();

    private static string Resolve(string variable, string path, UnixFileMode createMode)
    {
        try
        {
            Directory.CreateDirectory(path, createMode); // an existing directory keeps its mode
            return Libc.RealPath(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{variable}={path} cannot be used as a directory: {ex.Message}", ex);
        }
    }

    private static void CloseToOthers(string directory, string variable, ILogger logger)
    {
        var mode = File.GetUnixFileMode(directory);
        if ((mode & OpenToOthers) != 0)
        {
            File.SetUnixFileMode(directory, mode & ~OpenToOthers);
            LogClosed(logger, variable, directory, Octal(mode), Octal(mode & ~OpenToOthers));
        }
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "{Variable} {Directory} was open to group or others ({Mode}); closed to {Closed}: volumes live below it")]
    private static partial void LogClosed(ILogger logger, string variable, string directory, string mode, string closed);
}
