using Csvol.Hosting;
using Serilog;
using Serilog.Formatting.Compact;

// Until the app's own logger exists, and if it never does, start-up failures still reach dockerd's log as JSON.
Log.Logger = new LoggerConfiguration().WriteTo.Console(new CompactJsonFormatter()).CreateBootstrapLogger();
try
{
    await using var app = CsvolApp.Create(settings => settings.AddEnvironmentVariables());
    var lifecycle = app.Services.GetRequiredService<PluginLifecycle>(); // RunAsync disposes the container
    await app.RunAsync();
    if (lifecycle.Refusal is { } refusal)
    {
        await Console.Error.WriteLineAsync("csvol: " + refusal);
        return 1;
    }

    return 0;
}
catch (Exception ex) when (ex is not OperationCanceledException)
{
    Log.Fatal(ex, "csvol cannot start: {Reason}", ex.Message);
    await Console.Error.WriteLineAsync("csvol: " + ex.Message);
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
