using Csvol.Protocol;
using Csvol.Tests.Support;

namespace Csvol.Tests.Protocol;

/// <summary>The protocol as dockerd speaks it, over a real Unix socket, against the real plugin.</summary>
public sealed class PluginEndpointsTests : PluginHostTest
{
    [Fact]
    public async Task Activate_EmptyBody_ImplementsVolumeDriver()
    {
        var response = (await Sut.PostAsync("/Plugin.Activate")).AssertOk();

        Assert.Equal(PluginEndpoints.ContentType, response.ContentType?.MediaType);
        Assert.Equal("""{"Implements":["VolumeDriver"]}""", response.Body);
    }

    [Fact]
    public async Task Answers_SmallLargeAndErr_CarryContentLengthNotChunked()
    {
        // Enough volumes that the List answer outgrows the per-thread buffer kept between calls.
        for (var i = 0; i < 800; i++)
        {
            (await Sut.CallAsync("/VolumeDriver.Create", new { Name = $"length-check-volume-{i:D4}" })).AssertOk();
        }

        var small = (await Sut.PostAsync("/VolumeDriver.Capabilities", "{}")).AssertOk();
        var get = (await Sut.CallAsync("/VolumeDriver.Get", new { Name = "length-check-volume-0000" })).AssertOk();
        var err = await Sut.CallAsync("/VolumeDriver.Get", new { Name = "no-such-volume" });
        var large = (await Sut.PostAsync("/VolumeDriver.List", "{}")).AssertOk();

        Assert.True(large.Body.Length > 64 * 1024, $"List answer is only {large.Body.Length} bytes");
        Assert.Equal(800, large.Json.GetProperty("Volumes").GetArrayLength());
        Assert.Equal(500, err.Status);
        foreach (var response in new[] { small, get, err, large })
        {
            Assert.False(response.Chunked);
            Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(response.Body), response.ContentLength);
        }
    }

    [Fact]
    public async Task List_AfterEachKindOfChange_ShowsTheChangeNotAKeptAnswer()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "kept1" })).AssertOk();
        Assert.Equal(["kept1"], await ListedAsync());

        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "kept2" })).AssertOk();
        Assert.Equal(["kept1", "kept2"], await ListedAsync());

        (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "kept2", ID = "m1" })).AssertOk();
        Assert.Equal(Host.MountpointOf("kept2"), await ListedMountpointAsync("kept2"));

        (await Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "kept2", ID = "m1" })).AssertOk();
        Assert.Equal("", await ListedMountpointAsync("kept2"));

        (await Sut.CallAsync("/VolumeDriver.Remove", new { Name = "kept1" })).AssertOk();
        Assert.Equal(["kept2"], await ListedAsync());
    }

    private async Task<string[]> ListedAsync() =>
        [.. (await Sut.PostAsync("/VolumeDriver.List", "{}")).AssertOk().Json.GetProperty("Volumes").EnumerateArray()
            .Select(v => v.GetProperty("Name").GetString()!).Order(StringComparer.Ordinal)];

    private async Task<string?> ListedMountpointAsync(string name) =>
        (await Sut.PostAsync("/VolumeDriver.List", "{}")).AssertOk().Json.GetProperty("Volumes").EnumerateArray()
            .Single(v => v.GetProperty("Name").GetString() == name).GetProperty("Mountpoint").GetString();

    [Fact]
    public async Task Capabilities_LocalBackend_ScopeLocal()
    {
        var response = (await Sut.PostAsync("/VolumeDriver.Capabilities", "{}")).AssertOk();

        Assert.Equal("""{"Capabilities":{"Scope":"local"}}""", response.Body);
    }

    [Fact]
    public async Task Lifecycle_CreateMountGetPathListUnmountRemove_FieldsAreDockers()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "life1", Opts = new { mode = "0700" } })).AssertOk();

        var unmounted = (await Sut.CallAsync("/VolumeDriver.Get", new { Name = "life1" })).AssertOk().Json.GetProperty("Volume");
        Assert.Equal("life1", unmounted.GetProperty("Name").GetString());
        Assert.Equal("", unmounted.GetProperty("Mountpoint").GetString());
        Assert.True(DateTimeOffset.TryParse(unmounted.GetProperty("CreatedAt").GetString(), out _));
        Assert.Equal("dir", unmounted.GetProperty("Status").GetProperty("type").GetString());
        Assert.Equal("0", unmounted.GetProperty("Status").GetProperty("mounts").GetString());

        var mount = (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "life1", ID = "c1" })).AssertOk();
        var mountpoint = mount.Json.GetProperty("Mountpoint").GetString();
        Assert.Equal(Host.MountpointOf("life1"), mountpoint);
        Assert.Equal(1, TempDir.MountCount(mountpoint!));
        await File.WriteAllTextAsync(Path.Combine(mountpoint!, "hello"), "world");
        Assert.Equal("world", await File.ReadAllTextAsync(Path.Combine(Host.DataPathOf("life1"), "hello")));

        var path = (await Sut.CallAsync("/VolumeDriver.Path", new { Name = "life1" })).AssertOk();
        Assert.Equal(mountpoint, path.Json.GetProperty("Mountpoint").GetString());
        var list = (await Sut.PostAsync("/VolumeDriver.List")).AssertOk().Json.GetProperty("Volumes");
        var listed = Assert.Single(list.EnumerateArray());
        Assert.Equal("life1", listed.GetProperty("Name").GetString());
        Assert.Equal(mountpoint, listed.GetProperty("Mountpoint").GetString());

        (await Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "life1", ID = "c1" })).AssertOk();
        Assert.Equal(0, TempDir.MountCount(mountpoint!));
        (await Sut.CallAsync("/VolumeDriver.Remove", new { Name = "life1" })).AssertOk();

        Assert.False(Directory.Exists(Host.DataPathOf("life1")));
        Assert.Empty((await Sut.PostAsync("/VolumeDriver.List")).Json.GetProperty("Volumes").EnumerateArray());
    }

    [Theory]
    [InlineData("/VolumeDriver.Create")]
    [InlineData("/VolumeDriver.Get")]
    [InlineData("/VolumeDriver.Mount")]
    public async Task Call_EmptyBodyOrEmptyObject_ErrSaysNameIsMissing(string endpoint)
    {
        foreach (var body in new string?[] { null, "", "{}", "  \n" })
        {
            var response = await Sut.PostAsync(endpoint, body);

            Assert.Equal(500, response.Status);
            Assert.StartsWith("volume name is missing", response.Err, StringComparison.Ordinal);
            Assert.Equal(endpoint == "/VolumeDriver.Mount" && body is not "{}", response.Err!.Contains("run the container again", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("{\"Name\":", "not valid JSON")]
    [InlineData("[1,2]", "not valid JSON")]
    [InlineData("{\"Name\":\"v1\",\"Opts\":{\"size\":64}}", "$.Opts.size")]
    [InlineData("null", "JSON null")]
    public async Task Create_MalformedJson_400WithErr(string body, string expected)
    {
        var response = await Sut.PostAsync("/VolumeDriver.Create", body);

        Assert.Equal(400, response.Status);
        Assert.Contains(expected, response.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_OversizedBody_413AndServerStillAnswers()
    {
        var body = "{\"Name\":\"big\",\"Opts\":{\"x\":\"" + new string('a', RequestBody.MaxBytes) + "\"}}";

        // Repeated: answering before the caller finished sending once surfaced as a reset connection, now and then.
        for (var i = 0; i < 20; i++)
        {
            var response = await Sut.PostAsync("/VolumeDriver.Create", body);

            Assert.Equal(413, response.Status);
            Assert.Contains("larger than 64 KiB", response.Err, StringComparison.Ordinal);
        }

        (await Sut.PostAsync("/Plugin.Activate")).AssertOk();
    }

    [Fact]
    public async Task UnknownPath_404WithErrListingEndpoints()
    {
        var response = await Sut.PostAsync("/VolumeDriver.Snapshot", "{}");

        Assert.Equal(404, response.Status);
        Assert.Equal(PluginEndpoints.ContentType, response.ContentType?.MediaType);
        Assert.Contains("/VolumeDriver.Mount", response.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_WithHttpGet_405WithErr()
    {
        var response = await Sut.PostAsync("/VolumeDriver.Get", null, method: "GET");

        Assert.Equal(405, response.Status);
        Assert.Contains("uses POST", response.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PUT", "/VolumeDriver.Create")]
    [InlineData("DELETE", "/VolumeDriver.Remove")]
    [InlineData("GET", "/volumedriver.list")]
    public async Task KnownPath_AnyMethodButPost_405WithErrAndLength(string method, string path)
    {
        var response = await Sut.PostAsync(path, "{}", method);

        Assert.Equal(405, response.Status);
        Assert.Equal(PluginEndpoints.ContentType, response.ContentType?.MediaType);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(response.Body), response.ContentLength);
        Assert.Contains($"{method} is not supported", response.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/")]
    [InlineData("POST", "/")]
    [InlineData("GET", "/VolumeDriver.Snapshot")]
    public async Task UnknownPath_AnyMethod_404WithErrListingEndpoints(string method, string path)
    {
        var response = await Sut.PostAsync(path, "{}", method);

        Assert.Equal(404, response.Status);
        Assert.Contains("csvol answers POST on /Plugin.Activate", response.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_UnknownOption_ErrListsValidOptions()
    {
        var response = await Sut.CallAsync("/VolumeDriver.Create", new { Name = "opt1", Opts = new { sise = "1g" } });

        Assert.Equal(500, response.Status);
        Assert.Equal(
            "unknown option \"sise\" for csvol/local; valid options: gid, mode, nodev, noexec, nosuid, size, type, uid",
            response.Err);
        Assert.Empty((await Sut.PostAsync("/VolumeDriver.List")).Json.GetProperty("Volumes").EnumerateArray());
    }

    [Fact]
    public async Task Create_BadValue_ErrNamesOptionAndValidForm()
    {
        var response = await Sut.CallAsync("/VolumeDriver.Create", new { Name = "opt2", Opts = new { mode = "rwx" } });

        Assert.Equal("invalid value \"rwx\" for option \"mode\": expected octal permission bits from 0000 to 7777, e.g. 0750", response.Err);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("../etc")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("white space")]
    public async Task Create_InvalidName_ErrStatesTheRule(string name)
    {
        var response = await Sut.CallAsync("/VolumeDriver.Create", new { Name = name });

        Assert.Equal(500, response.Status);
        Assert.Contains("[a-zA-Z0-9_.-]", response.Err, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Host.Settings.StateDir, "volumes")));
    }

    [Fact]
    public async Task Create_SameNameSameOptions_Idempotent_DifferentOptions_Err()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "idem", Opts = new { mode = "750" } })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "idem", Opts = new { mode = "0750", type = "dir" } })).AssertOk();

        var conflict = await Sut.CallAsync("/VolumeDriver.Create", new { Name = "idem", Opts = new { mode = "0700" } });

        Assert.Equal(
            "volume \"idem\" already exists with options mode=0750,type=dir, not mode=0700,type=dir; create it with the same options or remove it first",
            conflict.Err);
    }

    [Fact]
    public async Task Remove_WhileMounted_RefusedThenAllowedAfterUnmount()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "busy" })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "busy", ID = "0123456789abcdef" })).AssertOk();

        var refused = await Sut.CallAsync("/VolumeDriver.Remove", new { Name = "busy" });

        Assert.Equal(
            "volume \"busy\" is in use: mounted for 1 container mount(s) (mount IDs 0123456789ab); stop the containers using it, then remove it",
            refused.Err);
        Assert.True(Directory.Exists(Host.DataPathOf("busy")));
        (await Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "busy", ID = "0123456789abcdef" })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Remove", new { Name = "busy" })).AssertOk();
    }

    [Fact]
    public async Task GetAndPath_UnknownVolume_ErrNotFound_RemoveAndUnmountOfUnknown_Succeed()
    {
        Assert.Equal(
            "volume \"ghost\" not found: csvol/local has no volume by that name",
            (await Sut.CallAsync("/VolumeDriver.Get", new { Name = "ghost" })).Err);
        Assert.Contains("not found", (await Sut.CallAsync("/VolumeDriver.Path", new { Name = "ghost" })).Err, StringComparison.Ordinal);
        (await Sut.CallAsync("/VolumeDriver.Remove", new { Name = "ghost" })).AssertOk();
        (await Sut.CallAsync("/VolumeDriver.Unmount", new { Name = "ghost", ID = "x" })).AssertOk();
    }

    [Fact]
    public async Task Mount_WithoutId_ErrSaysIdIsRequired()
    {
        (await Sut.CallAsync("/VolumeDriver.Create", new { Name = "noid" })).AssertOk();

        var response = await Sut.CallAsync("/VolumeDriver.Mount", new { Name = "noid" });

        Assert.Contains("has no ID", response.Err, StringComparison.Ordinal);
    }
}
