namespace Csvol.FakeCloud;

/// <summary>Errors queued per action by the test, answered before the action runs; thread-safe.</summary>
internal sealed class FaultQueue<TError>
    where TError : class
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Queue<TError>> _queued = new(StringComparer.Ordinal);

    public void Add(string action, int count, Func<TError> error)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            if (!_queued.TryGetValue(action, out var queue))
            {
                _queued[action] = queue = new Queue<TError>();
            }

            for (var i = 0; i < count; i++)
            {
                queue.Enqueue(error());
            }
        }
    }

    public TError? Take(string action)
    {
        lock (_gate)
        {
            return _queued.TryGetValue(action, out var queue) && queue.TryDequeue(out var error) ? error : null;
        }
    }

    public void Clear()
    {
        lock (_gate)
        {
            _queued.Clear();
        }
    }
}
