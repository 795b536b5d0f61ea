using System.Collections.Concurrent;

namespace Csvol.Volumes;

/// <summary>
/// Runs each state-changing call under a deadline without abandoning it: dockerd gives up on a plugin call after 30 s
/// (its HTTP client) and repeats it later, so a call past the deadline answers with an Err that says so while the
/// work goes on converging, and a repeat of the same call joins the one in flight instead of starting a second.
/// </summary>
internal sealed class ConvergingCalls(TimeSpan deadline, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);

    /// <param name="key">Identifies "the same call": operation, volume, and whatever else makes it the same request.</param>
    /// <param name="description">How the call is named in the Err, e.g. <c>Mount of volume "db"</c>.</param>
    /// <param name="work">The call itself; cancelled only by shutdown, never by the caller going away.</param>
    public async Task<T> RunAsync<T>(string key, string description, Func<Task<T>> work)
    {
        Task<T> task;
        var started = false;
        lock (_inFlight)
        {
            if (_inFlight.TryGetValue(key, out var existing) && existing is Task<T> same)
            {
                task = same;
            }
            else
            {
                task = Task.Run(work);
                _inFlight[key] = task;
                started = true;
            }
        }

        if (started)
        {
            // Removes only this task's entry, and only once it is finished, whoever is still waiting on it.
            _ = task.ContinueWith(
                finished =>
                {
                    _ = finished.Exception; // observed here: a caller that timed out no longer looks
                    ((ICollection<KeyValuePair<string, Task>>)_inFlight).Remove(new(key, finished));
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        try
        {
            return await task.WaitAsync(deadline, time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new VolumeException(
                $"{description} did not finish within {deadline.TotalSeconds:0.#} s (the storage backend is slow); it goes on in " +
                "the background, and repeating the same call joins it or finds it done");
        }
    }
}
