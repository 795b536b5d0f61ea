using Csvol.Mounting;
using Csvol.Backends;
using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace Csvol.Tests.Volumes;

/// <summary>
/// The shared logic with the backend as a seam: how often the backend is asked to mount, and what is left
/// when a step fails half-way. State is a real store on disk unless a test breaks it on purpose.
/// </summary>
public sealed class VolumeServiceTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Mock<IVolumeBackend> _backend = new();
    private readonly Mock<IMounter> _mounter = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero));
    private readonly FileStateStore _store;

    public VolumeServiceTests()
    {
        _backend.SetupGet(p => p.Name).Returns("fake");
        _backend.SetupGet(p => p.Options).Returns(
        [
            VolumeOptionSpec.Choice("kind", "", "plain", "plain", "fancy"),
            VolumeOptionSpec.Id("uid", ""),
        ]);
        _backend.Setup(p => p.CheckAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>())).ReturnsAsync(BackingState.Present);
        _mounter.Setup(m => m.Mountpoints()).Returns(new HashSet<string>());
        _store = new FileStateStore(_dir.Path, NullLogger<FileStateStore>.Instance, _time);
    }

    public void Dispose() => _dir.Dispose();

    private async Task<VolumeService> StartAsync(IStateStore? store = null)
    {
        var sut = new VolumeService(_backend.Object, store ?? _store, _mounter.Object, _dir.Sub("mnt"), _time, NullLogger<VolumeService>.Instance);
        await sut.InitializeAsync(default);
        return sut;
    }

    [Fact]
    public async Task Create_NoOptions_DefaultsRecordedAndCreatedAtFromClock()
    {
        var sut = await StartAsync();

        await sut.CreateAsync("v1", null, default);

        var record = Assert.Single(_store.LoadAll());
        Assert.Equal(new SortedDictionary<string, string> { ["kind"] = "plain" }, record.Options);
        Assert.Equal(_time.GetUtcNow(), record.CreatedAt);
        _backend.Verify(p => p.CreateAsync(It.Is<VolumeRecord>(r => r.Name == "v1"), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task Create_BackendFails_NoRecordLeft()
    {
        _backend.Setup(p => p.CreateAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new VolumeException("disk full"));
        var sut = await StartAsync();

        var ex = await Assert.ThrowsAsync<VolumeException>(() => sut.CreateAsync("v1", null, default));

        Assert.Equal("disk full", ex.Message);
        Assert.Empty(_store.LoadAll());
        Assert.Equal(0, sut.Count);
    }

    [Fact]
    public async Task Create_StateCannotBeSaved_StorageRemovedAgain()
    {
        var store = new Mock<IStateStore>();
        store.Setup(s => s.LoadAll()).Returns([]);
        store.Setup(s => s.Save(It.IsAny<VolumeRecord>())).Throws(new IOException("read-only file system"));
        var sut = await StartAsync(store.Object);

        await Assert.ThrowsAsync<IOException>(() => sut.CreateAsync("v1", null, default));

        _backend.Verify(p => p.RemoveAsync(It.Is<VolumeRecord>(r => r.Name == "v1"), It.IsAny<CancellationToken>()), Times.Once);
        _backend.Verify(p => p.PurgeAsync(It.Is<VolumeRecord>(r => r.Name == "v1"), It.IsAny<CancellationToken>()), Times.Once);
        await Assert.ThrowsAsync<VolumeException>(async () => await sut.GetAsync("v1"));
    }

    [Fact]
    public async Task Mount_ThreeIds_BackendMountsOnceAndUnmountsOnceAfterLast()
    {
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);

        foreach (var id in new[] { "a", "b", "a", "c" })
        {
            await sut.MountAsync("v1", id, default);
        }

        _backend.Verify(p => p.MountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.Equal(["a", "b", "c"], Assert.Single(_store.LoadAll()).MountIds);

        await sut.UnmountAsync("v1", "b", default);
        await sut.UnmountAsync("v1", "a", default);
        _backend.Verify(p => p.UnmountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);

        await sut.UnmountAsync("v1", "c", default);
        _backend.Verify(p => p.UnmountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.Empty(Assert.Single(_store.LoadAll()).MountIds);
    }

    [Fact]
    public async Task Mount_BackendFails_NoIdHeld()
    {
        _backend.Setup(p => p.MountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new VolumeException("device not ready"));
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);

        await Assert.ThrowsAsync<VolumeException>(() => sut.MountAsync("v1", "a", default));

        Assert.Empty(Assert.Single(_store.LoadAll()).MountIds);
        Assert.Equal("", await sut.PathAsync("v1"));
    }

    [Fact]
    public async Task Unmount_BackendFails_IdStillHeldAndRecorded()
    {
        _backend.Setup(p => p.UnmountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new VolumeException("busy"));
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);
        await sut.MountAsync("v1", "a", default);

        await Assert.ThrowsAsync<VolumeException>(() => sut.UnmountAsync("v1", "a", default));

        Assert.Equal(["a"], Assert.Single(_store.LoadAll()).MountIds);
        Assert.Equal(["a"], (await sut.GetAsync("v1")).MountIds);
    }

    [Fact]
    public async Task Remove_BackendFails_VolumeKept()
    {
        _backend.Setup(p => p.RemoveAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new VolumeException("cannot delete"));
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);

        await Assert.ThrowsAsync<VolumeException>(() => sut.RemoveAsync("v1", default));

        Assert.Single(_store.LoadAll());
        Assert.Equal("v1", (await sut.GetAsync("v1")).Name);
    }

    [Fact]
    public async Task Initialize_RecordWithoutStorage_RecordDropped()
    {
        _store.Save(new VolumeRecord { Name = "gone", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow() });
        _backend.Setup(p => p.CheckAsync(It.Is<VolumeRecord>(r => r.Name == "gone"), It.IsAny<CancellationToken>())).ReturnsAsync(BackingState.Gone);

        var sut = await StartAsync();

        Assert.Equal(0, sut.Count);
        Assert.Empty(_store.LoadAll());
    }

    [Fact]
    public async Task Initialize_RecordOfAnotherBackend_IgnoredNotDeleted()
    {
        _store.Save(new VolumeRecord { Name = "theirs", Backend = "ebs", Options = new(), CreatedAt = _time.GetUtcNow() });

        var sut = await StartAsync();

        Assert.Equal(0, sut.Count);
        Assert.Single(_store.LoadAll());
    }

    [Fact]
    public async Task Initialize_StateUnreadable_EveryCallSaysWhy()
    {
        var store = new Mock<IStateStore>();
        store.Setup(s => s.LoadAll()).Throws(new UnauthorizedAccessException("Access to the path '/var/lib/csvol/volumes' is denied."));

        var sut = await StartAsync(store.Object);

        var ex = await Assert.ThrowsAsync<VolumeException>(async () => await sut.ListAsync());
        Assert.StartsWith("csvol could not load its state: Access to the path '/var/lib/csvol/volumes' is denied.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_TwoUnknownOptions_BothNamedWithValidList()
    {
        var sut = await StartAsync();

        var ex = await Assert.ThrowsAsync<VolumeException>(() =>
            sut.CreateAsync("v1", new Dictionary<string, string> { ["zz"] = "1", ["aa"] = "2", ["uid"] = "5" }, default));

        Assert.Equal("unknown options \"aa\", \"zz\" for csvol/fake; valid options: kind, uid", ex.Message);
    }
}
