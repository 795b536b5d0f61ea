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
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>What the fake mount table shows; tests that need it let the backend mock mount into it.</summary>
    private readonly HashSet<string> _mounted = [];

    public VolumeServiceTests()
    {
        _backend.SetupGet(p => p.Name).Returns("fake");
        _backend.SetupGet(p => p.Options).Returns(
        [
            VolumeOptionSpec.Choice("kind", "", "plain", "plain", "fancy"),
            VolumeOptionSpec.Id("uid", ""),
        ]);
        _backend.Setup(p => p.CheckAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>())).ReturnsAsync(BackingState.Present);
        _backend.Setup(p => p.CreateAsync(It.IsAny<VolumeRecord>(), It.IsAny<IReadOnlyDictionary<string, string>>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(CreateResult.Made);
        _mounter.Setup(m => m.Mountpoints()).Returns(() => _mounted);
        _backend.Setup(p => p.MountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .Callback((VolumeRecord _, string mountpoint, CancellationToken _) => _mounted.Add(mountpoint))
            .Returns(Task.CompletedTask);
        _backend.Setup(p => p.UnmountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .Callback((VolumeRecord _, string mountpoint, CancellationToken _) => _mounted.Remove(mountpoint))
            .Returns(Task.CompletedTask);
        _store = new FileStateStore(_dir.Path, NullLogger<FileStateStore>.Instance, _time);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        _dir.Dispose();
    }

    private async Task<VolumeService> StartAsync(IStateStore? store = null, string bootId = "boot-1")
    {
        var sut = new VolumeService(_backend.Object, store ?? _store, _mounter.Object, VolumeServiceSettings.WithDefaults(_dir.Sub("mnt")),
            _time, NullLogger<VolumeService>.Instance, bootId);
        await sut.InitializeAsync(_stopping.Token);
        await sut.Restored;
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
        _backend.Verify(p => p.CreateAsync(It.Is<VolumeRecord>(r => r.Name == "v1"), It.IsAny<IReadOnlyDictionary<string, string>>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task Create_BackendFails_NoRecordLeft()
    {
        _backend.Setup(p => p.CreateAsync(It.IsAny<VolumeRecord>(), It.IsAny<IReadOnlyDictionary<string, string>>(), It.IsAny<CancellationToken>()))
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
        store.Setup(s => s.Save(It.IsAny<VolumeRecord>(), It.IsAny<Durability>())).Throws(new IOException("read-only file system"));
        var sut = await StartAsync(store.Object);

        await Assert.ThrowsAsync<IOException>(() => sut.CreateAsync("v1", null, default));

        _backend.Verify(p => p.RemoveAsync(It.Is<VolumeRecord>(r => r.Name == "v1"), It.IsAny<CancellationToken>()), Times.Once);
        _backend.Verify(p => p.PurgeAsync(It.Is<VolumeRecord>(r => r.Name == "v1"), It.IsAny<CancellationToken>()), Times.Once);
        await Assert.ThrowsAsync<VolumeException>(async () => await sut.GetAsync("v1"));
    }

    [Fact]
    public async Task Create_StateCannotBeSavedForAdoptedStorage_StorageKept()
    {
        _backend.Setup(p => p.CreateAsync(It.IsAny<VolumeRecord>(), It.IsAny<IReadOnlyDictionary<string, string>>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(CreateResult.Found);
        var store = new Mock<IStateStore>();
        store.Setup(s => s.LoadAll()).Returns([]);
        store.Setup(s => s.Save(It.IsAny<VolumeRecord>(), It.IsAny<Durability>())).Throws(new IOException("no space left on device"));
        var sut = await StartAsync(store.Object);

        await Assert.ThrowsAsync<IOException>(() => sut.CreateAsync("v1", null, default));

        _backend.Verify(p => p.RemoveAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>()), Times.Never);
        _backend.Verify(p => p.PurgeAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task Create_SecretOption_HandedToBackendButNeverStoredOrShown()
    {
        _backend.SetupGet(p => p.Options).Returns([VolumeOptionSpec.SecretText("token", ""), VolumeOptionSpec.Id("uid", "")]);
        IReadOnlyDictionary<string, string>? handed = null;
        _backend.Setup(p => p.CreateAsync(It.IsAny<VolumeRecord>(), It.IsAny<IReadOnlyDictionary<string, string>>(), It.IsAny<CancellationToken>()))
            .Callback((VolumeRecord _, IReadOnlyDictionary<string, string> secrets, CancellationToken _) => handed = secrets)
            .ReturnsAsync(CreateResult.Made);
        var sut = await StartAsync();

        await sut.CreateAsync("v1", new Dictionary<string, string> { ["token"] = "hunter2-secret", ["uid"] = "7" }, default);
        var conflict = await Assert.ThrowsAsync<VolumeException>(() =>
            sut.CreateAsync("v1", new Dictionary<string, string> { ["token"] = "hunter2-secret", ["uid"] = "8" }, default));
        var invalid = await Assert.ThrowsAsync<VolumeException>(() =>
            sut.CreateAsync("v2", new Dictionary<string, string> { ["token"] = "", ["uid"] = "hunter2-secret" }, default));

        Assert.Equal("hunter2-secret", handed!["token"]);
        Assert.DoesNotContain("hunter2", await File.ReadAllTextAsync(_store.PathOf("v1")), StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", conflict.Message, StringComparison.Ordinal);
        Assert.Equal(new SortedDictionary<string, string> { ["uid"] = "7" }, (await sut.GetAsync("v1")).Options);
        Assert.Contains("option \"", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mount_IdsHeldButMountGone_MountsAgainInsteadOfHandingOutAnEmptyDirectory()
    {
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);
        await sut.MountAsync("v1", "a", default);
        _mounted.Clear(); // unmounted behind csvol's back

        await sut.MountAsync("v1", "b", default);

        _backend.Verify(p => p.MountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Exactly(2));
        Assert.Contains(sut.MountpointOf("v1"), _mounted);
    }

    [Fact]
    public async Task Mount_LaterIdWhileBackendSaysMountIsStale_UnmountedAndMountedAgain()
    {
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);
        await sut.MountAsync("v1", "a", default);
        _backend.Setup(p => p.IsMountStaleAsync(It.IsAny<VolumeRecord>(), sut.MountpointOf("v1"), It.IsAny<CancellationToken>())).ReturnsAsync(true);

        await sut.MountAsync("v1", "b", default);

        _backend.Verify(p => p.UnmountAsync(It.IsAny<VolumeRecord>(), sut.MountpointOf("v1"), It.IsAny<CancellationToken>()), Times.Once);
        _backend.Verify(p => p.MountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Exactly(2));
        Assert.Equal(["a", "b"], (await sut.GetAsync("v1")).MountIds);
    }

    [Fact]
    public async Task Mount_LaterIdWhileStaleCheckFails_ErrAndIdNotHeld()
    {
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);
        await sut.MountAsync("v1", "a", default);
        _backend.Setup(p => p.IsMountStaleAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new VolumeException("server does not answer"));

        var ex = await Assert.ThrowsAsync<VolumeException>(() => sut.MountAsync("v1", "b", default));

        Assert.Equal("server does not answer", ex.Message);
        Assert.Equal(["a"], (await sut.GetAsync("v1")).MountIds);
        _backend.Verify(p => p.UnmountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task Remove_RecordDeleteFails_StorageCheckedBackAndVolumeKept()
    {
        var store = new Mock<IStateStore>();
        store.Setup(s => s.LoadAll()).Returns([]);
        store.Setup(s => s.Delete("v1")).Throws(new IOException("input/output error"));
        var sut = await StartAsync(store.Object);
        await sut.CreateAsync("v1", null, default);

        await Assert.ThrowsAsync<IOException>(() => sut.RemoveAsync("v1", default));

        _backend.Verify(p => p.CheckAsync(It.Is<VolumeRecord>(r => r.Name == "v1"), It.IsAny<CancellationToken>()), Times.Once);
        _backend.Verify(p => p.PurgeAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>()), Times.Never);
        Assert.Equal("v1", (await sut.GetAsync("v1")).Name);
    }

    [Fact]
    public async Task Remove_LastVolumeOfAnOptionSet_SharedSetForgotten()
    {
        var sut = await StartAsync();
        await sut.CreateAsync("v1", new Dictionary<string, string> { ["uid"] = "5" }, default);
        await sut.CreateAsync("v2", new Dictionary<string, string> { ["uid"] = "5" }, default);
        var shared = sut.SharedOptionSets;

        await sut.RemoveAsync("v1", default);
        var afterFirst = sut.SharedOptionSets;
        await sut.RemoveAsync("v2", default);

        Assert.Equal(shared, afterFirst);
        Assert.Equal(shared - 1, sut.SharedOptionSets);
    }

    [Fact]
    public async Task Initialize_IdsFromAnotherBoot_Dropped_IdsFromThisBoot_Kept()
    {
        _store.Save(new VolumeRecord { Name = "old", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow(), MountIds = ["x"], BootId = "boot-0" }, Durability.PowerLoss);
        _store.Save(new VolumeRecord { Name = "now", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow(), MountIds = ["y"], BootId = "boot-1" }, Durability.PowerLoss);

        var sut = await StartAsync(bootId: "boot-1");

        Assert.Empty((await sut.GetAsync("old")).MountIds);
        Assert.Equal(["y"], (await sut.GetAsync("now")).MountIds);
        _backend.Verify(p => p.MountAsync(It.Is<VolumeRecord>(r => r.Name == "old"), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Never);
        _backend.Verify(p => p.MountAsync(It.Is<VolumeRecord>(r => r.Name == "now"), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task Initialize_CheckFailsTransiently_RecordKept()
    {
        _store.Save(new VolumeRecord { Name = "maybe", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow() }, Durability.PowerLoss);
        _backend.Setup(p => p.CheckAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new BackendUnavailableException("connection refused"));

        var sut = await StartAsync();

        Assert.Equal("maybe", (await sut.GetAsync("maybe")).Name);
        Assert.Single(_store.LoadAll());
    }

    [Fact]
    public async Task Initialize_OneVolumesRestoreThrows_OthersStillRestored()
    {
        var store = new Mock<IStateStore>();
        store.Setup(s => s.LoadAll()).Returns(
        [
            new VolumeRecord { Name = "gone", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow() },
            new VolumeRecord { Name = "held", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow(), MountIds = ["a"] },
        ]);
        store.Setup(s => s.Delete("gone")).Throws(new IOException("read-only file system"));
        _backend.Setup(p => p.CheckAsync(It.Is<VolumeRecord>(r => r.Name == "gone"), It.IsAny<CancellationToken>())).ReturnsAsync(BackingState.Gone);

        var sut = await StartAsync(store.Object);

        _backend.Verify(p => p.MountAsync(It.Is<VolumeRecord>(r => r.Name == "held"), It.IsAny<string>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.Equal("gone", (await sut.GetAsync("gone")).Name);
    }

    [Fact]
    public async Task Initialize_RemountFails_IdsKeptSoTheVolumeCannotBeRemoved()
    {
        _store.Save(new VolumeRecord { Name = "held", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow(), MountIds = ["a"] }, Durability.PowerLoss);
        _backend.Setup(p => p.MountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new BackendUnavailableException("attach timed out"));

        var sut = await StartAsync();

        Assert.Equal(["a"], (await sut.GetAsync("held")).MountIds);
        var ex = await Assert.ThrowsAsync<VolumeException>(() => sut.RemoveAsync("held", default));
        Assert.Contains("is in use", ex.Message, StringComparison.Ordinal);
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
    public async Task Unmount_BackendFails_IdReleasedAndRemoveRetriesTheRelease()
    {
        var fail = true;
        _backend.Setup(p => p.UnmountAsync(It.IsAny<VolumeRecord>(), It.IsAny<string>(), It.IsAny<CancellationToken>()))
            .Returns(() => fail ? Task.FromException(new IOException("busy")) : Task.CompletedTask);
        var sut = await StartAsync();
        await sut.CreateAsync("v1", null, default);
        await sut.MountAsync("v1", "a", default);

        var ex = await Assert.ThrowsAsync<VolumeException>(() => sut.UnmountAsync("v1", "a", default));
        var blocked = await Assert.ThrowsAsync<VolumeException>(() => sut.RemoveAsync("v1", default));
        fail = false;
        await sut.RemoveAsync("v1", default);

        Assert.Contains("releasing it failed: busy; csvol tries again every 30 s", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be released: busy", blocked.Message, StringComparison.Ordinal);
        Assert.Empty(_store.LoadAll());
        _backend.Verify(p => p.RemoveAsync(It.IsAny<VolumeRecord>(), It.IsAny<CancellationToken>()), Times.Once);
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
        _store.Save(new VolumeRecord { Name = "gone", Backend = "fake", Options = new(), CreatedAt = _time.GetUtcNow() }, Durability.PowerLoss);
        _backend.Setup(p => p.CheckAsync(It.Is<VolumeRecord>(r => r.Name == "gone"), It.IsAny<CancellationToken>())).ReturnsAsync(BackingState.Gone);

        var sut = await StartAsync();

        Assert.Equal(0, sut.Count);
        Assert.Empty(_store.LoadAll());
    }

    [Fact]
    public async Task Initialize_RecordOfAnotherBackend_IgnoredNotDeleted()
    {
        _store.Save(new VolumeRecord { Name = "theirs", Backend = "ebs", Options = new(), CreatedAt = _time.GetUtcNow() }, Durability.PowerLoss);

        var sut = await StartAsync();

        Assert.Equal(0, sut.Count);
        Assert.Single(_store.LoadAll());
    }

    [Fact]
    public async Task Initialize_StateUnreadable_EveryCallSaysWhy()
    {
        var store = new Mock<IStateStore>();
        store.Setup(s => s.LoadAll()).Throws(new UnauthorizedAccessException("Access to the path '/var/lib/csvol/volumes' is denied."));

        var sut = new VolumeService(_backend.Object, store.Object, _mounter.Object, VolumeServiceSettings.WithDefaults(_dir.Sub("mnt")),
            _time, NullLogger<VolumeService>.Instance, "boot-1");
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => sut.InitializeAsync(_stopping.Token));

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
