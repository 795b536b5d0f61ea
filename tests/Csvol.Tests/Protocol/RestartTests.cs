using Csvol.Volumes;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using Csvol.Tests.Support;

namespace Csvol.Tests.Protocol;

/// <summary>A plugin restart must not lose volumes, mount IDs or mounts (field lesson 8).</summary>
public sealed class RestartTests : PluginHostTest
{
    [Fact]
    public async Task Restart_WhileMounted_KeepsIdsAndMountAndData()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "keep", Opts = new { uid = "999" } })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "keep", ID = "a" })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "keep", ID = "b" })).AssertOk();
        await File.WriteAllTextAsync(Path.Combine(Host.MountpointOf("keep"), "f"), "data");

        await RestartAndRestoreAsync();

        Assert.Equal(1, TempDir.MountCount(Host.MountpointOf("keep")));
        var status = (await Sut.CallAsync("/VolumeDriver.Get", new { Name = "keep" })).AssertOk().Json.GetProperty("Volume").GetProperty("Status");
        Assert.Equal("2", status.GetProperty("mounts").GetString());
        (await Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "keep", ID = "a" })).AssertOk();
        Assert.Equal(1, TempDir.MountCount(Host.MountpointOf("keep")));
        (await Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "keep", ID = "b" })).AssertOk();
        Assert.Equal(0, TempDir.MountCount(Host.MountpointOf("keep")));
        Assert.Equal("data", await File.ReadAllTextAsync(Path.Combine(Host.DataPathOf("keep"), "f")));
    }

    [Fact]
    public async Task Restart_MountGoneButIdsHeld_MountsAgain()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "lost" })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "lost", ID = "a" })).AssertOk();
        await File.WriteAllTextAsync(Path.Combine(Host.MountpointOf("lost"), "f"), "x");
        // As after a reboot of the mount namespace: the mount vanished, the record did not.
        Assert.Equal(0, Csvol.Linux.Libc.TryUnmount(Host.MountpointOf("lost"), Csvol.Linux.UnmountFlags.None));

        await RestartAndRestoreAsync();

        Assert.Equal(1, TempDir.MountCount(Host.MountpointOf("lost")));
        Assert.Equal("x", await File.ReadAllTextAsync(Path.Combine(Host.MountpointOf("lost"), "f")));
    }

    [Fact]
    public async Task Restart_StaleMountWithoutIds_Unmounted()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "stale" })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "stale", ID = "a" })).AssertOk();
        // As if the plugin died between forgetting the last ID and unmounting: the record says unmounted.
        var recordPath = Path.Combine(Host.Settings.StateDir, "volumes", "stale.json");
        var record = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(await File.ReadAllTextAsync(recordPath))!;
        record["MountIds"] = JsonSerializer.SerializeToElement(Array.Empty<string>());
        await File.WriteAllTextAsync(recordPath, JsonSerializer.Serialize(record));

        await RestartAndRestoreAsync();

        Assert.Equal(0, TempDir.MountCount(Host.MountpointOf("stale")));
        Assert.Equal("0", (await Sut.CallAsync("/VolumeDriver.Get", new { Name = "stale" })).Json
            .GetProperty("Volume").GetProperty("Status").GetProperty("mounts").GetString());
    }

    [Fact]
    public async Task Restart_TmpfsHeld_KeepsItsContents()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "mem", Opts = new { type = "tmpfs", size = "1m" } })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "mem", ID = "a" })).AssertOk();
        await File.WriteAllTextAsync(Path.Combine(Host.MountpointOf("mem"), "f"), "in memory");

        await RestartAndRestoreAsync();

        Assert.Equal(1, TempDir.MountCount(Host.MountpointOf("mem")));
        Assert.Equal("in memory", await File.ReadAllTextAsync(Path.Combine(Host.MountpointOf("mem"), "f")));
    }

    /// <summary>Restarts the plugin and waits for its background restores, which the first List no longer waits for.</summary>
    private async Task RestartAndRestoreAsync()
    {
        await Host.RestartAsync();
        await Host.Services.GetRequiredService<VolumeService>().Restored.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
