using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Csvol.Tests.Support;

namespace Csvol.Tests.Backends.Nfs.Rig;

/// <summary>
/// The real-NFS rig: nfs-ganesha on this host's loopback and two QEMU guests, each a Docker host with its own kernel NFS
/// client running csvol/nfs's published binary. Built by <c>scripts/nfs-rig.sh build</c> (kernel and busybox initramfs),
/// started once for the collection, torn down by the processes it started (by their own handles, nothing else).
/// </summary>
public sealed class NfsRig : IAsyncLifetime
{
    /// <summary>
    /// Each blocking NFS step in the guests gives up after this (CSVOL_NFS_TIMEOUT): below csvol's 8 s default so the
    /// outage test is quick, above what a TCG guest on a busy 2-core machine needs for a step that the server answers.
    /// </summary>
    public static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(6);

    private readonly List<RigGuest> _guests = [];
    private readonly Stopwatch _started = Stopwatch.StartNew();
    private Ganesha? _server;

    public string Dir { get; } = Path.Combine("/tmp", "csvol-nfs-rig-" + Guid.NewGuid().ToString("N")[..8]);

    internal Ganesha Server => _server ?? throw new InvalidOperationException("the rig did not start");

    internal RigGuest A => _guests[0];

    internal RigGuest B => _guests[1];

    /// <summary>How long the rig took to build and boot, for the test log.</summary>
    public TimeSpan StartTime { get; private set; }

    public async Task InitializeAsync()
    {
        Root.Require();
        var repo = RepoRoot();
        await ProcessRunner.RunAsync(Path.Join(repo, "scripts", "nfs-rig.sh"), "build");
        var kernel = Path.Join(repo, "artifacts", "nfs-rig", "vmlinuz");
        var initrd = Path.Join(repo, "artifacts", "nfs-rig", "initrd.cpio.gz");

        Directory.CreateDirectory(Dir);
        _server = new Ganesha(Dir, FreePort());
        await _server.StartAsync();
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CSVOL_DISCOVERY_INTERVAL"] = "2",
            ["CSVOL_NFS_TIMEOUT"] = ((int)StepTimeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CSVOL_REPAIR_INTERVAL"] = "5",
        };
        _guests.Add(RigGuest.Boot("a", kernel, initrd, Dir, _server.Port, settings));
        _guests.Add(RigGuest.Boot("b", kernel, initrd, Dir, _server.Port, settings));
        await Task.WhenAll(_guests.Select(g => g.ReadyAsync(TimeSpan.FromSeconds(180))));
        StartTime = _started.Elapsed;
    }

    public async Task DisposeAsync()
    {
        foreach (var guest in _guests)
        {
            await guest.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (Directory.Exists(Dir))
        {
            Directory.Delete(Dir, recursive: true); // only files ganesha wrote for the guests; nothing is mounted here
        }
    }

    /// <summary>A loopback port nobody listens on now.</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "backends.list")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("backends.list not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class NfsRigCollection : ICollectionFixture<NfsRig>
{
    public const string Name = "nfs-rig";
}
