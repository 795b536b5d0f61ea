using Csvol.Tests.Support;

namespace Csvol.Tests.Protocol;

/// <summary>Many containers starting and stopping at once (field lesson 2): the count must come out exact.</summary>
public sealed class ConcurrentMountTests : PluginHostTest
{
    [Fact]
    public async Task MountUnmount_48DistinctIdsOnOneVolume_ExactlyOneMountThenNone()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "shared" })).AssertOk();
        var ids = Enumerable.Range(0, 48).Select(i => $"container-{i:D2}").ToArray();
        var mountpoint = Host.MountpointOf("shared");

        // Every Mount twice (a repeated ID is idempotent) and all at once.
        var mounts = await Task.WhenAll(ids.Concat(ids).Select(id => Sut.CallAsync("/VolumeDriver.Mount", new { Name = "shared", ID = id })));

        Assert.All(mounts, m => Assert.Equal(mountpoint, m.AssertOk().Json.GetProperty("Mountpoint").GetString()));
        Assert.Equal(1, TempDir.MountCount(mountpoint));
        Assert.Equal("48", await MountsReportedAsync("shared"));

        // Release all but three, concurrently, some twice.
        var released = ids.Skip(3).ToArray();
        await Task.WhenAll(released.Concat(released.Take(10)).Select(id => Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "shared", ID = id })));

        Assert.Equal(1, TempDir.MountCount(mountpoint));
        Assert.Equal("3", await MountsReportedAsync("shared"));

        await Task.WhenAll(ids.Take(3).Select(id => Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "shared", ID = id })));

        Assert.Equal(0, TempDir.MountCount(mountpoint));
        Assert.Equal("0", await MountsReportedAsync("shared"));
        Assert.Equal("", (await Sut.CallAsync("/VolumeDriver.Path", new { Name = "shared" })).Json.GetProperty("Mountpoint").GetString());
    }

    [Fact]
    public async Task MountUnmount_InterleavedOnTwelveVolumes_EachEndsWithExactCount()
    {
        var names = Enumerable.Range(0, 12).Select(i => $"many-{i:D2}").ToArray();
        await Task.WhenAll(names.Select(n => Sut.CallAsync("/VolumeDriver.Create", new { Name = n })));

        // Per volume: ids 0..7 mount; then 0..4 unmount while 8..9 mount, all interleaved across volumes.
        await Task.WhenAll(names.SelectMany(n => Enumerable.Range(0, 8).Select(i => Sut.CallAsync("/VolumeDriver.Mount", new { Name = n, ID = $"id{i}" }))));
        var churn = names.SelectMany(n =>
            Enumerable.Range(0, 5).Select(i => Sut.CallAsync("/VolumeDriver.Unmount", new { Name = n, ID = $"id{i}" }))
                .Concat(Enumerable.Range(8, 2).Select(i => Sut.CallAsync("/VolumeDriver.Mount", new { Name = n, ID = $"id{i}" }))));
        Assert.All(await Task.WhenAll(churn), r => r.AssertOk());

        foreach (var name in names)
        {
            Assert.Equal("5", await MountsReportedAsync(name));
            Assert.Equal(1, TempDir.MountCount(Host.MountpointOf(name)));
        }

        await Task.WhenAll(names.SelectMany(n => new[] { 5, 6, 7, 8, 9 }.Select(i => Sut.CallAsync("/VolumeDriver.Unmount", new { Name = n, ID = $"id{i}" }))));

        Assert.All(names, n => Assert.Equal(0, TempDir.MountCount(Host.MountpointOf(n))));
        Assert.Empty(TempDir.MountsUnder(Host.Settings.MountRoot));
    }

    private async Task<string?> MountsReportedAsync(string name) =>
        (await Sut.CallAsync("/VolumeDriver.Get", new { Name = name })).AssertOk()
            .Json.GetProperty("Volume").GetProperty("Status").GetProperty("mounts").GetString();
}
