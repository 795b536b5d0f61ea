namespace Csvol.FakeCloud;

/// <summary>Open by default; a closed gate holds every state change that waits on it until it opens again.</summary>
internal sealed class Gate
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _open = NewOpen();

    public void Close()
    {
        lock (_lock)
        {
            if (_open.Task.IsCompleted)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Open()
    {
        lock (_lock)
        {
            _ = _open.TrySetResult();
        }
    }

    public bool IsOpen
    {
        get
        {
            lock (_lock)
            {
                return _open.Task.IsCompleted;
            }
        }
    }

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return _open.Task.WaitAsync(cancellationToken);
        }
    }

    private static TaskCompletionSource NewOpen()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }
}
