using System.Collections;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Csvol.Bench;

/// <summary>
/// A command started the way plugbench starts one: in its own process group, stdout and stderr on /dev/null,
/// signal dispositions and mask reset. posix_spawn rather than System.Diagnostics.Process, which can neither
/// give the child /dev/null nor a process group, nor send SIGTERM.
/// </summary>
internal sealed partial class ChildProcess
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int WNoHang = 1;
    private const int EChild = 10;
    private const int OWriteOnly = 1;
    private const int OCreateAppend = 0x40 | 0x400; // O_CREAT | O_APPEND
    private const short SpawnSetProcessGroup = 0x02;
    private const short SpawnSetSignalDefaults = 0x04;
    private const short SpawnSetSignalMask = 0x08;
    private const int OpaqueBytes = 1024; // larger than glibc's and musl's posix_spawn structures and sigset_t

    private ChildProcess(int pid, long startedAt)
    {
        Pid = pid;
        StartedAt = startedAt;
    }

    public int Pid { get; }

    /// <summary>Stopwatch timestamp taken just before posix_spawn, after all preparation.</summary>
    public long StartedAt { get; }

    /// <summary>How it ended, once <see cref="HasExited"/> has seen it end.</summary>
    public string? ExitReason { get; private set; }

    /// <param name="command">The program (looked up in PATH) and its arguments.</param>
    /// <param name="environment">Variables set or replaced in the child's copy of this process's environment.</param>
    /// <param name="output">A file stdout and stderr are appended to (created 0644), instead of /dev/null.</param>
    public static ChildProcess Start(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment, string? output = null)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            variables[(string)entry.Key] = (string?)entry.Value ?? "";
        }

        foreach (var (name, value) in environment)
        {
            variables[name] = value;
        }

        var argv = CStrings(command);
        var envp = CStrings([.. variables.Select(v => $"{v.Key}={v.Value}")]);
        var actions = Marshal.AllocHGlobal(OpaqueBytes);
        var attributes = Marshal.AllocHGlobal(OpaqueBytes);
        var signals = Marshal.AllocHGlobal(OpaqueBytes);
        try
        {
            Check(FileActionsInit(actions), "posix_spawn_file_actions_init");
            Check(AttributesInit(attributes), "posix_spawnattr_init");
            try
            {
                Check(output is null
                    ? FileActionsAddOpen(actions, 1, "/dev/null", OWriteOnly, 0)
                    : FileActionsAddOpen(actions, 1, output, OWriteOnly | OCreateAppend, 0x1a4), "posix_spawn_file_actions_addopen");
                Check(FileActionsAddDup2(actions, 1, 2), "posix_spawn_file_actions_adddup2");
                Check(AttributesSetFlags(attributes, SpawnSetProcessGroup | SpawnSetSignalDefaults | SpawnSetSignalMask),
                    "posix_spawnattr_setflags");
                Check(AttributesSetProcessGroup(attributes, 0), "posix_spawnattr_setpgroup");
                _ = SignalEmptySet(signals);
                Check(AttributesSetSignalMask(attributes, signals), "posix_spawnattr_setsigmask");
                _ = SignalFillSet(signals); // .NET ignores SIGPIPE; the child starts with every default
                Check(AttributesSetSignalDefaults(attributes, signals), "posix_spawnattr_setsigdefault");
                var startedAt = Stopwatch.GetTimestamp();
                Check(Spawn(out var pid, command[0], actions, attributes, argv, envp), "start " + command[0]);
                return new ChildProcess(pid, startedAt);
            }
            finally
            {
                _ = FileActionsDestroy(actions);
                _ = AttributesDestroy(attributes);
            }
        }
        finally
        {
            Marshal.FreeHGlobal(actions);
            Marshal.FreeHGlobal(attributes);
            Marshal.FreeHGlobal(signals);
            Free(argv);
            Free(envp);
        }
    }

    /// <summary>Reaps the child if it has ended, without waiting.</summary>
    public bool HasExited()
    {
        if (ExitReason is not null)
        {
            return true;
        }

        var reaped = WaitPid(Pid, out var status, WNoHang);
        if (reaped == 0)
        {
            return false;
        }

        ExitReason = reaped < 0 ? $"lost track of it (errno {Marshal.GetLastPInvokeError()})"
            : (status & 0x7f) == 0 ? $"exit status {(status >> 8) & 0xff}"
            : $"signal {status & 0x7f}";
        return true;
    }

    /// <summary>SIGTERM to its process group, SIGKILL after 5 s, and waits for it.</summary>
    public void Stop()
    {
        _ = Kill(-Pid, SigTerm);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!HasExited())
        {
            if (DateTime.UtcNow > deadline)
            {
                _ = Kill(-Pid, SigKill);
                if (WaitPid(Pid, out _, 0) < 0 && Marshal.GetLastPInvokeError() != EChild)
                {
                    throw new IOException($"waitpid {Pid}: errno {Marshal.GetLastPInvokeError()}");
                }

                ExitReason = "killed";
                return;
            }

            Thread.Sleep(2);
        }
    }

    /// <summary>Sleeps a sub-millisecond time, which Thread.Sleep cannot.</summary>
    public static void Pause(TimeSpan time) => _ = USleep((uint)(time.Ticks / TimeSpan.TicksPerMicrosecond));

    private static IntPtr[] CStrings(IReadOnlyList<string> strings)
    {
        var pointers = new IntPtr[strings.Count + 1]; // NULL-terminated
        for (var i = 0; i < strings.Count; i++)
        {
            pointers[i] = Marshal.StringToCoTaskMemUTF8(strings[i]);
        }

        return pointers;
    }

    private static void Free(IntPtr[] pointers)
    {
        foreach (var pointer in pointers)
        {
            Marshal.FreeCoTaskMem(pointer);
        }
    }

    private static void Check(int error, string what)
    {
        if (error != 0)
        {
            throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(error)}");
        }
    }

    // posix_spawn and its helpers return an error number rather than setting errno.
    [LibraryImport("libc", EntryPoint = "posix_spawnp", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Spawn(out int pid, string file, IntPtr fileActions, IntPtr attributes, IntPtr[] argv, IntPtr[] envp);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int FileActionsInit(IntPtr actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileActionsAddOpen(IntPtr actions, int fd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int FileActionsAddDup2(IntPtr actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int FileActionsDestroy(IntPtr actions);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static partial int AttributesInit(IntPtr attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static partial int AttributesSetFlags(IntPtr attributes, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setpgroup")]
    private static partial int AttributesSetProcessGroup(IntPtr attributes, int processGroup);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int AttributesSetSignalMask(IntPtr attributes, IntPtr signals);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int AttributesSetSignalDefaults(IntPtr attributes, IntPtr signals);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static partial int AttributesDestroy(IntPtr attributes);

    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    private static partial int SignalEmptySet(IntPtr signals);

    [LibraryImport("libc", EntryPoint = "sigfillset")]
    private static partial int SignalFillSet(IntPtr signals);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "usleep")]
    private static partial int USleep(uint microseconds);
}
