using System.Diagnostics;

namespace Csvol.Tests.Support;

/// <summary>Waits for something that happens in the background (a discovery, a retried unmount), up to a bound.</summary>
internal static class Eventually
{
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(15);

    /// <returns>Whether <paramref name="condition"/> held within <see cref="DefaultBound"/>; polled every 100 ms.</returns>
    public static async Task<bool> TrueAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < DefaultBound)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    public static Task<bool> TrueAsync(Func<bool> condition) => TrueAsync(() => Task.FromResult(condition()));
}
