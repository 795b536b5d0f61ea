using Csvol.Volumes;

namespace Csvol.Tests.Volumes;

public sealed class KeyedLockTests
{
    [Fact]
    public async Task Acquire_SameKey_SecondWaitsForFirst()
    {
        var sut = new KeyedLock();
        var first = await sut.AcquireAsync("v", default);

        var second = sut.AcquireAsync("v", default).AsTask();
        await Task.Delay(50);
        Assert.False(second.IsCompleted);

        first.Dispose();
        (await second).Dispose();
        Assert.Equal(0, sut.ActiveKeys);
    }

    [Fact]
    public async Task Acquire_DifferentKeys_BothHeldAtOnce()
    {
        var sut = new KeyedLock();

        using var a = await sut.AcquireAsync("a", default);
        var b = sut.AcquireAsync("b", default);

        Assert.True(b.IsCompletedSuccessfully);
        (await b).Dispose();
    }

    [Fact]
    public async Task Acquire_CancelledWhileWaiting_EntryReleased()
    {
        var sut = new KeyedLock();
        var held = await sut.AcquireAsync("v", default);
        using var cancel = new CancellationTokenSource();

        var waiting = sut.AcquireAsync("v", cancel.Token).AsTask();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        held.Dispose();
        Assert.Equal(0, sut.ActiveKeys);
    }

    [Fact]
    public async Task Acquire_ManyContenders_NeverTwoInside()
    {
        var sut = new KeyedLock();
        var inside = 0;
        var maxInside = 0;

        await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            using var held = await sut.AcquireAsync("v", default);
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref maxInside, now);
            await Task.Yield();
            Interlocked.Decrement(ref inside);
        }));

        Assert.Equal(1, maxInside);
        Assert.Equal(0, sut.ActiveKeys);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
