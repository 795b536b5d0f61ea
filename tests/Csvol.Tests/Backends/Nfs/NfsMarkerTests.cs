using System.Text;
using Csvol.Backends.Nfs;

namespace Csvol.Tests.Backends.Nfs;

public sealed class NfsMarkerTests
{
    private static NfsMarker Sample(bool made) => new()
    {
        Volume = "app-uploads",
        Subdir = "team/app",
        Made = made,
        CreatedAt = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero),
        Host = "host-a",
        Options = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["server"] = "nfs", ["share"] = "/exports", ["subdir"] = "team/app" },
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Parse_WhatToBytesWrote_SameMarker(bool made)
    {
        var sut = Sample(made);

        var back = NfsMarker.Parse(sut.ToBytes());

        Assert.NotNull(back);
        Assert.Equal(made, back.Made);
        Assert.Equal(sut.Volume, back.Volume);
        Assert.Equal(sut.Subdir, back.Subdir);
        Assert.Equal(sut.CreatedAt, back.CreatedAt);
        Assert.Equal(sut.Options, back.Options);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"Version\":1,\"Volume\":\"v\",\"Subdir\":\"v\",\"Made\":tr")]
    [InlineData("{\"Version\":2,\"Volume\":\"v\",\"Subdir\":\"v\",\"Made\":true,\"CreatedAt\":\"2026-12-01T10:00:00Z\",\"Options\":{}}")]
    [InlineData("{\"Version\":1,\"Volume\":\"v\",\"Subdir\":\"v\",\"Made\":true,\"CreatedAt\":\"2026-12-01T10:00:00Z\",\"Options\":{\"a\":null}}")]
    [InlineData("[1,2]")]
    public void Parse_DamagedOrNewer_Null(string text) => Assert.Null(NfsMarker.Parse(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void ToBytes_Always_SaysWhetherCsvolMadeTheDirectory()
    {
        var text = Encoding.UTF8.GetString(Sample(made: false).ToBytes());

        Assert.Contains("\"Made\": false", text, StringComparison.Ordinal);
        Assert.Equal("app-uploads.json", NfsMarker.FileName("app-uploads"));
    }
}
