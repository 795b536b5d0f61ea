using Csvol.Backends.Nfs;
using Csvol.Linux;
using Csvol.Volumes;

namespace Csvol.Tests.Backends.Nfs;

public sealed class NfsClientTests
{
    [Fact]
    public void MountArguments_SourceTargetOptions_OneArgumentEach()
    {
        var sut = NfsClient.MountArguments("nfs-server:/exports/team/my vol", "/mnt/volumes/v; rm -rf /", ["hard", "vers=4.1"]);

        Assert.Equal(["nfs-server:/exports/team/my vol", "/mnt/volumes/v; rm -rf /", "-o", "hard,vers=4.1"], sut);
    }

    [Theory]
    [InlineData("mount.nfs: access denied by server while mounting s:/x", "does the export allow this host's address?")]
    [InlineData("mount.nfs: mounting s:/x failed, reason given by server: No such file or directory", "the path does not exist on the server")]
    [InlineData("mount.nfs: Connection refused", "the server is not reachable")]
    [InlineData("mount.nfs: Failed to resolve server s: Name or service not known", "does not resolve")]
    [InlineData("mount.nfs: Stale file handle", "stale file handle")]
    public void MountFailed_MountNfsWords_ErrNamesServerSourceAndWhatToCheck(string stderr, string hint)
    {
        var sut = NfsErrors.MountFailed("s", "s:/x", new ProgramResult(32, "", stderr + "\n"));

        Assert.StartsWith("cannot mount s:/x from NFS server s: ", sut.Message, StringComparison.Ordinal);
        Assert.Contains(hint, sut.Message, StringComparison.Ordinal);
        Assert.Contains("exit 32", sut.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Libc.EPERM, "root_squash")]
    [InlineData(Libc.EACCES, "root_squash")]
    [InlineData(Libc.ESTALE, "stale NFS file handle")]
    public void StepFailed_Errno_ErrSaysWhy(int errno, string expected)
    {
        var sut = NfsErrors.StepFailed("s", "create", "s:/x/v", new ErrnoException("chown", errno));

        var volumeException = Assert.IsType<VolumeException>(sut);
        Assert.Contains(expected, volumeException.Message, StringComparison.Ordinal);
        Assert.Contains("s:/x/v", volumeException.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_StepThatBlocks_AnswersWithinTheBound()
    {
        var sut = new Watchdog(TimeProvider.System);
        using var never = new ManualResetEventSlim();

        var ex = await Assert.ThrowsAsync<VolumeException>(() => sut.RunAsync(
            () => never.Wait(), TimeSpan.FromMilliseconds(200), () => NfsErrors.NotAnswering("s", "stat", "/m", TimeSpan.FromMilliseconds(200)),
            CancellationToken.None));

        Assert.Contains("NFS server s did not answer", ex.Message, StringComparison.Ordinal);
        never.Set();
    }

    [Fact]
    public async Task IsBusyWith_StepGivenUpOn_BusyUntilItsThreadReturns()
    {
        var sut = new Watchdog(TimeProvider.System);
        using var release = new ManualResetEventSlim();

        await Assert.ThrowsAsync<TimeoutException>(() => sut.RunAsync(
            () => release.Wait(), TimeSpan.FromMilliseconds(100), () => new TimeoutException(), CancellationToken.None, "/mnt/volumes/v"));

        Assert.True(sut.IsBusyWith("/mnt/volumes/v"));
        Assert.False(sut.IsBusyWith("/mnt/volumes/other"));
        release.Set();
        Assert.True(await sut.IdleAsync("/mnt/volumes/v", TimeSpan.FromSeconds(30)));
        Assert.False(sut.IsBusyWith("/mnt/volumes/v"));
    }

    [Fact]
    public async Task IsBusyWith_StepThatFinished_NotBusyWhenItsCallerSeesTheAnswer()
    {
        var sut = new Watchdog(TimeProvider.System);

        await Assert.ThrowsAsync<IOException>(() => sut.RunAsync(
            () => throw new IOException("busy"), TimeSpan.FromSeconds(30), () => new TimeoutException(), CancellationToken.None, "/m"));

        Assert.False(sut.IsBusyWith("/m"));
    }

    [Fact]
    public async Task RunProgramAsync_ProgramThatHangs_KilledAndErr()
    {
        var sut = new Watchdog(TimeProvider.System);

        var ex = await Assert.ThrowsAsync<VolumeException>(() => sut.RunProgramAsync(
            "sleep", ["600"], TimeSpan.FromMilliseconds(300), () => new VolumeException("late"), CancellationToken.None));

        Assert.Equal("late", ex.Message);
    }

    [Fact]
    public async Task RunProgramAsync_ArgumentsWithShellCharacters_ReachTheProgramAsGiven()
    {
        var sut = new Watchdog(TimeProvider.System);

        var result = await sut.RunProgramAsync("printf", ["%s|", "a b", "$(id)", ";x"], TimeSpan.FromSeconds(10), () => new VolumeException("late"), CancellationToken.None);

        Assert.Equal("a b|$(id)|;x|", result.Output);
    }
}
