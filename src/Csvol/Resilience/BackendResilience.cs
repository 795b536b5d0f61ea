using Csvol.Backends;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Csvol.Resilience;

/// <summary>
/// The one place where retries, timeouts and circuit breaking around a backend's remote calls are decided: each
/// backend registers one named pipeline here (with its SDK's own retries off, so nothing doubles them) and runs its
/// calls through it.
/// </summary>
internal static class BackendResilience
{
    /// <summary>
    /// Registers pipeline <paramref name="name"/>, outermost first: a timeout for the whole operation, retries with
    /// jittered exponential backoff on what <paramref name="isTransient"/> accepts (and on attempts that timed out),
    /// a circuit breaker that fails fast while the backend keeps failing, and a timeout per attempt.
    /// </summary>
    /// <param name="services">Where the pipeline is registered.</param>
    /// <param name="name">The pipeline's name, one per backend.</param>
    /// <param name="isTransient">Failures worth another attempt.</param>
    /// <param name="settings">Limits; the defaults keep an operation inside csvol's call deadline.</param>
    /// <param name="retryAfter">The wait a failure asks for (a 429's Retry-After), honoured up to <see cref="BackendResilienceSettings.MaxRetryAfter"/>; null: the backoff decides.</param>
    public static IServiceCollection AddBackendPipeline(
        this IServiceCollection services, string name, Func<Exception, bool> isTransient, BackendResilienceSettings? settings = null,
        Func<Exception, TimeSpan?>? retryAfter = null)
    {
        var s = settings ?? new BackendResilienceSettings();
        return services.AddResiliencePipeline(name, (builder, context) =>
        {
            var time = context.ServiceProvider.GetService<TimeProvider>();
            if (time is not null)
            {
                builder.TimeProvider = time;
            }

            var shouldRetry = new PredicateBuilder()
                .Handle<TimeoutRejectedException>()
                .Handle<BackendUnavailableException>()
                .Handle<Exception>(isTransient);
            builder
                .AddTimeout(s.OperationTimeout)
                .AddRetry(new RetryStrategyOptions
                {
                    ShouldHandle = shouldRetry,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = s.FirstRetryDelay,
                    MaxDelay = s.MaxRetryDelay,
                    MaxRetryAttempts = s.MaxRetries,
                    DelayGenerator = retryAfter is null ? null : args =>
                        ValueTask.FromResult(args.Outcome.Exception is { } failure && retryAfter(failure) is { } wait
                            ? (TimeSpan?)(wait < s.MaxRetryAfter ? wait : s.MaxRetryAfter)
                            : null),
                })
                .AddCircuitBreaker(new CircuitBreakerStrategyOptions
                {
                    ShouldHandle = shouldRetry,
                    FailureRatio = 0.8,
                    MinimumThroughput = s.BreakAfterFailures,
                    SamplingDuration = TimeSpan.FromSeconds(30),
                    BreakDuration = s.BreakDuration,
                })
                .AddTimeout(s.AttemptTimeout);
        });
    }

    /// <summary>What a pipeline's refusal means to a user: the backend is failing, not the request.</summary>
    public static bool IsPipelineRefusal(Exception exception) =>
        exception is TimeoutRejectedException or BrokenCircuitException;
}

/// <summary>Limits of a backend pipeline; the defaults keep one operation inside csvol's call deadline.</summary>
internal sealed record BackendResilienceSettings
{
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest Retry-After a pipeline waits for before its next attempt.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(20);

    public int MaxRetries { get; init; } = 6;

    public int BreakAfterFailures { get; init; } = 10;

    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(5);
}
