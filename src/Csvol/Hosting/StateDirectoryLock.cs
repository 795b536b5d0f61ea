using System.Globalization;
using System.Text;
using Csvol.Linux;
using Microsoft.Win32.SafeHandles;

namespace Csvol.Hosting;

/// <summary>
/// An exclusive flock on <c>&lt;state dir&gt;/csvol.lock</c>, held by an open file for the life of the process: two
/// csvol processes on one state directory would remove and unmount volumes behind each other's back. The kernel
/// drops the lock when its holder dies, even by SIGKILL, so a crash never blocks the next start.
/// </summary>
internal sealed class StateDirectoryLock : IDisposable
{
    public const string FileName = "csvol.lock";

    private readonly SafeFileHandle _file;

    private StateDirectoryLock(SafeFileHandle file) => _file = file;

    /// <param name="stateDir">The real path of the state directory.</param>
    /// <param name="configuredStateDir">The directory as configured, for the message.</param>
    /// <param name="socket">This process's socket, recorded for the message another process would show.</param>
    public static StateDirectoryLock Acquire(string stateDir, string configuredStateDir, string socket)
    {
        var file = Libc.OpenLockFile(Path.Join(stateDir, FileName));
        try
        {
            if (!Libc.TryLockExclusive(file))
            {
                var shown = configuredStateDir == stateDir ? stateDir : $"{configuredStateDir} (that is, {stateDir})";
                throw new InvalidOperationException(
                    $"{CsvolSettings.StateDirVariable}={shown} is in use by another running process ({Holder(file)}); " +
                    "two csvol processes on one state directory would undo each other's work: stop the other one or choose another state directory");
            }

            var holder = Encoding.UTF8.GetBytes(
                string.Create(CultureInfo.InvariantCulture, $"pid={Environment.ProcessId}\nsocket={socket}\n"));
            RandomAccess.SetLength(file, 0);
            RandomAccess.Write(file, holder, 0);
            return new StateDirectoryLock(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>Who holds the lock, as its holder wrote it: "csvol pid 1234, socket /run/docker/plugins/csvol.sock".</summary>
    private static string Holder(SafeFileHandle file)
    {
        var buffer = new byte[4096];
        var length = RandomAccess.Read(file, buffer, 0);
        var fields = Encoding.UTF8.GetString(buffer, 0, length)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);
        return fields.TryGetValue("pid", out var pid) && fields.TryGetValue("socket", out var socket)
            ? $"csvol pid {pid}, socket {socket}"
            : "a csvol that has not yet said which";
    }
}
