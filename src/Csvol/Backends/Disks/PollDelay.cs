namespace Csvol.Backends.Disks;

/// <summary>
/// The wait between two polls of a cloud operation (attach, detach): a backoff that grows to a cap, cut short once
/// by a local sign, free to check, that the state has likely changed (the attached device's link appeared, or went).
/// Without the sign, the poll after the operation finished came on average a third of the backoff late: ~160 ms of a
/// 500 ms EBS attach, ~320 ms of a 500 ms Azure one (bench section 5).
/// </summary>
internal sealed class PollDelay(TimeProvider time, TimeSpan first, TimeSpan cap, Func<bool>? hint = null)
{
    /// <summary>How often the sign is looked at.</summary>
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(20);

    private TimeSpan _next = first;
    private Func<bool>? _hint = hint;

    /// <summary>Waits until the next poll is due, or the sign shows (then it is not heeded again: a device that appears just before the cloud says so must not turn the wait into a busy poll).</summary>
    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        var due = time.GetUtcNow() + _next;
        while (due - time.GetUtcNow() is { Ticks: > 0 } left && (_hint is null || !_hint()))
        {
            await Task.Delay(_hint is null || left < Step ? left : Step, time, cancellationToken);
        }

        if (_hint is not null && _hint())
        {
            _hint = null;
        }

        _next = TimeSpan.FromTicks(Math.Min((long)(_next.Ticks * 1.5), cap.Ticks));
    }
}
