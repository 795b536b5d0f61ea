using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Csvol.Tests.Volumes;

public sealed class FileStateStoreTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FileStateStore _sut;

    public FileStateStoreTests() =>
        _sut = new FileStateStore(_dir.Path, NullLogger<FileStateStore>.Instance, new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1700000000)));

    public void Dispose() => _dir.Dispose();

    private static VolumeRecord Record(string name, params string[] ids) => new()
    {
        Name = name,
        Backend = "local",
        Options = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["type"] = "dir", ["uid"] = "999" },
        CreatedAt = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero),
        MountIds = ids,
    };

    [Fact]
    public void SaveThenLoadAll_RoundTripsEveryField()
    {
        var record = Record("v1", "a", "b");

        _sut.Save(record, Durability.PowerLoss);
        var loaded = Assert.Single(_sut.LoadAll());

        Assert.Equal(record.Name, loaded.Name);
        Assert.Equal(record.Options, loaded.Options);
        Assert.Equal(record.CreatedAt, loaded.CreatedAt);
        Assert.Equal(record.MountIds, loaded.MountIds);
        Assert.Equal(VolumeRecord.CurrentVersion, loaded.Version);
    }

    [Fact]
    public void Save_Twice_ReplacesAndLeavesNoTempFile()
    {
        _sut.Save(Record("v1", "a"), Durability.PowerLoss);
        _sut.Save(Record("v1"), Durability.PowerLoss);

        Assert.Empty(Assert.Single(_sut.LoadAll()).MountIds);
        Assert.Equal(["v1.json"], Directory.EnumerateFiles(_dir.Sub("volumes")).Select(Path.GetFileName));
    }

    [Fact]
    public void LoadAll_TornTempFileFromCrash_OldRecordWinsAndTempRemoved()
    {
        _sut.Save(Record("v1", "a"), Durability.PowerLoss);
        File.WriteAllText(_dir.Sub("volumes", ".v1.json.tmp"), "{\"Name\":\"v1\",\"Prov");

        var loaded = Assert.Single(_sut.LoadAll());

        Assert.Equal(["a"], loaded.MountIds);
        Assert.False(File.Exists(_dir.Sub("volumes", ".v1.json.tmp")));
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("null")]
    [InlineData("{\"Name\":\"v2\",\"Backend\":\"local\",\"Options\":null,\"CreatedAt\":\"2026-01-01T00:00:00Z\"}")]
    [InlineData("{\"Name\":\"v2\",\"Backend\":\"local\",\"Options\":{},\"MountIds\":null,\"CreatedAt\":\"2026-01-01T00:00:00Z\"}")]
    [InlineData("{\"Name\":\"v2\",\"Backend\":\"local\",\"Options\":{\"a\":null},\"CreatedAt\":\"2026-01-01T00:00:00Z\"}")]
    [InlineData("{\"Name\":\"v2\",\"Options\":{},\"CreatedAt\":\"2026-01-01T00:00:00Z\"}")]
    [InlineData("{\"Name\":\"other\",\"Backend\":\"local\",\"Options\":{},\"CreatedAt\":\"2026-01-01T00:00:00Z\"}")]
    public void LoadAll_UnusableRecord_QuarantinedOthersLoaded(string contents)
    {
        _sut.Save(Record("good"), Durability.PowerLoss);
        File.WriteAllText(_dir.Sub("volumes", "v2.json"), contents);

        var loaded = _sut.LoadAll();

        Assert.Equal("good", Assert.Single(loaded).Name);
        Assert.Equal(contents, File.ReadAllText(_dir.Sub("volumes", "v2.json.corrupt-1700000000")));
    }

    [Fact]
    public void LoadAll_RecordFromNewerCsvol_RefusesNamingTheVersionAndLeavesItInPlace()
    {
        const string newer = "{\"Version\":99,\"Name\":\"v2\",\"Backend\":\"local\",\"Options\":{},\"CreatedAt\":\"2026-01-01T00:00:00Z\"}";
        File.WriteAllText(_dir.Sub("volumes", "v2.json"), newer);

        var ex = Assert.Throws<StateVersionException>(() => _sut.LoadAll());

        Assert.Contains("has version 99, newer than this csvol understands (2)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(newer, File.ReadAllText(_dir.Sub("volumes", "v2.json")));
    }

    [Fact]
    public void LoadAll_Version1RecordWithProvider_LoadsAsBackend()
    {
        File.WriteAllText(_dir.Sub("volumes", "v1.json"),
            "{\"Version\":1,\"Name\":\"v1\",\"Provider\":\"local\",\"Options\":{\"type\":\"dir\"},\"CreatedAt\":\"2026-01-01T00:00:00Z\",\"MountIds\":[\"m1\"]}");

        var loaded = Assert.Single(_sut.LoadAll());

        Assert.Equal("local", loaded.Backend);
        Assert.Equal(["m1"], loaded.MountIds);
        Assert.Null(loaded.BootId);
        Assert.Equal(VolumeRecord.CurrentVersion, loaded.Version);
    }

    [Fact]
    public void Delete_RemovesRecord_AndIsIdempotent()
    {
        _sut.Save(Record("v1"), Durability.PowerLoss);

        _sut.Delete("v1");
        _sut.Delete("v1");

        Assert.Empty(_sut.LoadAll());
    }
}
