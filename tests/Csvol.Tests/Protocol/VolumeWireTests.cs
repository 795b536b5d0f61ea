using System.Globalization;
using System.Text;
using System.Text.Json;
using Csvol.Mounting;
using Csvol.Protocol;
using Csvol.Backends;
using Csvol.Tests.Support;
using Csvol.Volumes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace Csvol.Tests.Protocol;

public sealed class VolumeWireTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("2026-11-25T14:48:09.1234567Z")]
    [InlineData("0001-01-01T00:00:00.0000000Z")]
    [InlineData("9999-12-31T23:59:59.9999999Z")]
    [InlineData("2024-02-29T05:06:07.0080000Z")]
    public void FormatCreatedAt_AnyUtcTime_SameAsTheFormatStringItReplaces(string isoTime)
    {
        var time = DateTime.Parse(isoTime, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        var into = new byte[24];

        VolumeWire.FormatCreatedAt(time, into);

        Assert.Equal(time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture), Encoding.ASCII.GetString(into));
    }

    [Fact]
    public async Task WriteList_MountRootNeedingEscapes_CopiedEntriesParseToTheSameValuesAsGet()
    {
        var mountRoot = _dir.Sub("mnt \"quoted\" \\ ünï");
        var backend = new Mock<IVolumeBackend>();
        backend.SetupGet(p => p.Name).Returns("fake");
        backend.SetupGet(p => p.Options).Returns([]);
        backend.Setup(p => p.CreateAsync(It.IsAny<VolumeRecord>(), It.IsAny<IReadOnlyDictionary<string, string>>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(CreateResult.Made);
        var mounter = new Mock<IMounter>();
        mounter.Setup(m => m.Mountpoints()).Returns(new HashSet<string>());
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 9, 0, 0, 123, TimeSpan.Zero));
        var volumes = new VolumeService(backend.Object, new FileStateStore(_dir.Sub("state"), NullLogger<FileStateStore>.Instance, time),
            mounter.Object, VolumeServiceSettings.WithDefaults(mountRoot), time, NullLogger<VolumeService>.Instance);
        await volumes.InitializeAsync(default);
        await volumes.CreateAsync("plain", null, default);
        await volumes.CreateAsync("mounted.one_2", null, default);
        await volumes.MountAsync("mounted.one_2", "id1", default);
        var sut = new VolumeWire(volumes);

        var records = await volumes.ListAsync();
        var list = Write(w => sut.WriteList(w, records));

        var entries = list.RootElement.GetProperty("Volumes").EnumerateArray().ToDictionary(e => e.GetProperty("Name").GetString()!);
        Assert.Equal(2, entries.Count);
        Assert.Equal("", entries["plain"].GetProperty("Mountpoint").GetString());
        Assert.Equal(volumes.MountpointOf("mounted.one_2"), entries["mounted.one_2"].GetProperty("Mountpoint").GetString());
        foreach (var name in entries.Keys)
        {
            var record = await volumes.GetAsync(name);
            var get = Write(w => sut.WriteGet(w, record)).RootElement.GetProperty("Volume");
            Assert.Equal(get.GetProperty("Mountpoint").GetString(), entries[name].GetProperty("Mountpoint").GetString());
            Assert.Equal("2026-11-25T09:00:00.123Z", entries[name].GetProperty("CreatedAt").GetString());
        }
    }

    private static JsonDocument Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return JsonDocument.Parse(buffer.WrittenMemory);
    }
}
