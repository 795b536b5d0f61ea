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
/// The state directory is created 0700: records and data are root's alone. One that already exists writable by group
/// or others is tightened (those write bits removed, a warning logged) rather than refused: nothing legitimate needs
/// them, and refusing would leave the plugin down until someone finds the host path. Its other bits are left as they
/// are. The mount root is created 0755: containers are started from it.
/// </para>
/// </remarks>
internal sealed partial class CsvolDirectories : IDisposable
{
    private const UnixFileMode StateDirMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode MountRootMode = StateDirMode |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

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
        var stateDir = Resolve(CsvolSettings.StateDirVariable, settings.StateDir, StateDirMode);
        var mode = File.GetUnixFileMode(stateDir);
        if ((mode & WritableByOthers) != 0)
        {
            File.SetUnixFileMode(stateDir, mode & ~WritableByOthers);
            LogStateDirTightened(logger, stateDir, Octal(mode), Octal(mode & ~WritableByOthers));
        }

        var held = StateDirectoryLock.Acquire(stateDir, settings.StateDir, settings.Socket);
        try
        {
            return new CsvolDirectories(stateDir, Resolve(CsvolSettings.MountRootVariable, settings.MountRoot, MountRootMode), held);
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

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "State directory {StateDir} was writable by group or others ({Mode}); tightened to {Tightened}")]
    private static partial void LogStateDirTightened(ILogger logger, string stateDir, string mode, string tightened);
}
