namespace Csvol.Backends.Disks;

/// <summary>
/// A value fetched on first need and kept (who this instance is, a cloud client); callers that arrive meanwhile wait
/// for the same fetch, and a failed fetch is tried again by the next caller rather than remembered.
/// </summary>
internal sealed class FetchOnce<T>(Func<CancellationToken, Task<T>> fetch) : IDisposable
    where T : class
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private T? _value;

    /// <summary>The value if it was fetched; never starts a fetch.</summary>
    public T? Fetched => _value;

    public async Task<T> GetAsync(CancellationToken cancellationToken)
    {
        if (_value is { } known)
        {
            return known;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            return _value ??= await fetch(cancellationToken);
        }
        finally
        {
            _ = _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
