using System.Runtime.InteropServices;
using System.Text;

namespace Csvol.Tests.Support;

/// <summary>
/// What a host user with a working directory inside a volume can do while the volume is removed: swap pairs of
/// entries with renameat2(RENAME_EXCHANGE), over and over, on a thread of its own. It holds the directory open,
/// as a working directory is held, so it follows the directory when Remove moves it into the trash.
/// </summary>
internal sealed class EntrySwapper : IDisposable
{
    private const int ORdonlyDirectoryCloexec = 0x10000 | 0x80000;
    private const uint RenameExchange = 2;

    private readonly int _directory;
    private readonly (byte[] A, byte[] B)[] _pairs;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _swaps;

    public EntrySwapper(string directory, IEnumerable<(string A, string B)> pairs)
    {
        _directory = open(Encoding.UTF8.GetBytes(directory + "\0"), ORdonlyDirectoryCloexec);
        Assert.True(_directory >= 0, $"open {directory}: errno {Marshal.GetLastPInvokeError()}");
        _pairs = [.. pairs.Select(p => (Encoding.UTF8.GetBytes(p.A + "\0"), Encoding.UTF8.GetBytes(p.B + "\0")))];
        _thread = new Thread(Run) { IsBackground = true, Name = "entry swapper" };
        _thread.Start();
    }

    /// <summary>Exchanges that succeeded; they stop succeeding once the entries are deleted.</summary>
    public long Swaps => Interlocked.Read(ref _swaps);

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _ = close(_directory);
    }

    private void Run()
    {
        while (!_stop)
        {
            foreach (var (a, b) in _pairs)
            {
                if (renameat2(_directory, a, _directory, b, RenameExchange) == 0)
                {
                    Interlocked.Increment(ref _swaps);
                }
            }
        }
    }

    // DllImport, not LibraryImport: the test project does not allow unsafe code, and byte arrays need no marshalling.
#pragma warning disable SYSLIB1054, CA5392, IDE1006
    [DllImport("libc", SetLastError = true)]
    private static extern int open(byte[] path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int renameat2(int oldDirectory, byte[] oldPath, int newDirectory, byte[] newPath, uint flags);

    [DllImport("libc")]
    private static extern int close(int fd);
#pragma warning restore SYSLIB1054, CA5392, IDE1006
}
