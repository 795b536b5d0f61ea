namespace Csvol.Protocol;

internal sealed partial class PluginCall
{
    [LoggerMessage(Message = "{Operation} {Volume} {Outcome} in {ElapsedMs:0.###} ms")]
    private static partial void LogCall(ILogger logger, LogLevel level, string operation, string volume, double elapsedMs, string outcome);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Operation} {Volume} failed unexpectedly after {ElapsedMs:0.###} ms")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string operation, string volume, double elapsedMs);
}
