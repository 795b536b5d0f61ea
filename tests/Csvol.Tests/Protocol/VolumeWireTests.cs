using System.Globalization;
using System.Text;
using System.Text.Json;
using Csvol.Protocol;
using Csvol.Volumes;

namespace Csvol.Tests.Protocol;

/// <summary>The Get and List answers, written from records alone: no volume service, no mocks.</summary>
public sealed class VolumeWireTests
{
    private static readonly DateTimeOffset CreatedAt = new(2026, 11, 25, 9, 0, 0, 123, TimeSpan.Zero);

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
    public void WriteList_MountRootNeedingEscapes_CopiedEntriesParseToTheSameValuesAsGet()
    {
        var sut = Wire("/srv/mnt \"quoted\" \\ ünï");
        VolumeRecord[] records = [Record("plain"), Record("mounted.one_2", "id1")];

        var list = Write(w => sut.WriteList(w, records));

        var entries = list.RootElement.GetProperty("Volumes").EnumerateArray().ToDictionary(e => e.GetProperty("Name").GetString()!);
        Assert.Equal(2, entries.Count);
        Assert.Equal("", entries["plain"].GetProperty("Mountpoint").GetString());
        Assert.Equal("/srv/mnt \"quoted\" \\ ünï/mounted.one_2", entries["mounted.one_2"].GetProperty("Mountpoint").GetString());
        foreach (var record in records)
        {
            var get = Write(w => sut.WriteGet(w, record)).RootElement.GetProperty("Volume");
            Assert.Equal(get.GetProperty("Mountpoint").GetString(), entries[record.Name].GetProperty("Mountpoint").GetString());
            Assert.Equal("2026-11-25T09:00:00.123Z", entries[record.Name].GetProperty("CreatedAt").GetString());
        }
    }

    [Fact]
    public void WriteList_ThousandCharacterMountRootAndLongestName_ListsTheFullMountpoint()
    {
        var mountRoot = "/" + string.Join('/', Enumerable.Repeat(new string('r', 99), 10)); // 1000 characters
        var name = new string('n', VolumeName.MaxLength);
        var sut = Wire(mountRoot);

        var list = Write(w => sut.WriteList(w, [Record(name, "id1"), Record("short", "id2"), Record("unmounted")]));

        var entries = list.RootElement.GetProperty("Volumes").EnumerateArray().ToDictionary(e => e.GetProperty("Name").GetString()!);
        Assert.Equal(mountRoot + "/" + name, entries[name].GetProperty("Mountpoint").GetString());
        Assert.Equal(mountRoot + "/short", entries["short"].GetProperty("Mountpoint").GetString());
        Assert.Equal("", entries["unmounted"].GetProperty("Mountpoint").GetString());
    }

    [Fact]
    public void WriteGet_MountedTwice_StatusHasDriverMountsThenBackendFacts()
    {
        var sut = new VolumeWire("csvol/test", name => "/mnt/" + name, static (_, status) => status["type"] = "dir");

        var volume = Write(w => sut.WriteGet(w, Record("v1", "a", "b"))).RootElement.GetProperty("Volume");

        Assert.Equal("/mnt/v1", volume.GetProperty("Mountpoint").GetString());
        Assert.Equal(
            """{"driver":"csvol/test","mounts":"2","type":"dir"}""",
            volume.GetProperty("Status").GetRawText());
    }

    [Fact]
    public void ListJson_SameVersion_KeptAnswer_NewVersion_RenderedAgain()
    {
        var sut = Wire("/mnt");
        var first = sut.ListJson(1, [Record("v1")], () => 1);

        var kept = sut.ListJson(1, [Record("v1"), Record("v2")], () => 1);
        var changed = sut.ListJson(2, [Record("v1"), Record("v2")], () => 2);

        Assert.True(kept.Equals(first));
        Assert.Equal(2, JsonDocument.Parse(changed).RootElement.GetProperty("Volumes").GetArrayLength());
    }

    [Fact]
    public void ListJson_ChangeWhileRendering_NotKept()
    {
        var sut = Wire("/mnt");
        _ = sut.ListJson(1, [Record("v1")], () => 2);

        var next = sut.ListJson(1, [Record("v1"), Record("v2")], () => 2);

        Assert.Equal(2, JsonDocument.Parse(next).RootElement.GetProperty("Volumes").GetArrayLength());
    }

    private static VolumeWire Wire(string mountRoot) =>
        new("csvol/test", name => Path.Join(mountRoot, name), static (_, _) => { });

    private static VolumeRecord Record(string name, params string[] mountIds) => new()
    {
        Name = name,
        Backend = "test",
        Options = [],
        CreatedAt = CreatedAt,
        MountIds = mountIds,
    };

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
