using System.Collections.Concurrent;
using Csvol.Backends;

namespace Csvol.Tests.Backends.Remote;

/// <summary>
/// Slowness and failures a test injects into <see cref="DirectoryBackend"/>, per operation ("Create", "Mount", …) or per
/// operation on one volume ("Mount:db").
/// </summary>
internal sealed class RemoteFaults
{
    private readonly ConcurrentDictionary<string, TimeSpan> _delays = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _hangs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    /// <summary>Every attempt of <paramref name="operation"/> takes this long before doing its work.</summary>
    public void Delay(string operation, TimeSpan delay) => _delays[operation] = delay;

    /// <summary>The next <paramref name="count"/> attempts fail as a backend that cannot be reached.</summary>
    public void Fail(string operation, int count) => _failures[operation] = count;

    /// <summary>Attempts wait until <see cref="Release"/> (or their cancellation): a backend that never answers.</summary>
    public void Hang(string operation) => _hangs[operation] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release(string operation)
    {
        if (_hangs.TryRemove(operation, out var hang))
        {
            hang.TrySetResult();
        }
    }

    /// <summary>How many attempts of <paramref name="operation"/> got past the faults and did their work.</summary>
    public int Completed(string operation) => _calls.GetValueOrDefault(operation);

    /// <summary>What every attempt of <paramref name="operation"/> goes through first: a hang, a delay, an injected failure.</summary>
    public async Task EnterAsync(string operation, string? volume, CancellationToken cancellationToken)
    {
        foreach (var key in volume is null ? [operation] : new[] { operation, operation + ":" + volume })
        {
            if (_hangs.TryGetValue(key, out var hang))
            {
                await hang.Task.WaitAsync(cancellationToken);
            }

            if (_delays.TryGetValue(key, out var delay))
            {
                await Task.Delay(delay, cancellationToken);
            }
        }

        Complete(operation);
    }

    /// <summary>Throws when a failure is due for this attempt; counts the attempt as done otherwise.</summary>
    private void Complete(string operation)
    {
        while (true)
        {
            var left = _failures.GetValueOrDefault(operation);
            if (left <= 0)
            {
                break;
            }

            if (_failures.TryUpdate(operation, left - 1, left))
            {
                throw new BackendUnavailableException($"test remote: {operation} failed (injected, {left - 1} more to come)");
            }
        }

        _calls.AddOrUpdate(operation, 1, (_, n) => n + 1);
    }
}
