using System.Text;

namespace Csvol.EndToEnd.Harness;

/// <summary>What a finished command printed and returned, with everything a failure message needs.</summary>
public sealed record CommandResult(string Command, int ExitCode, string StdOut, string StdErr, bool TimedOut)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    public string Describe()
    {
        var text = new StringBuilder();
        text.Append('`').Append(Command).Append("` ");
        text.Append(TimedOut ? "timed out" : $"exited with {ExitCode}");
        text.AppendLine();
        text.Append("stdout: ").AppendLine(StdOut.TrimEnd());
        text.Append("stderr: ").Append(StdErr.TrimEnd());
        return text.ToString();
    }

    /// <summary>Returns this result when the command succeeded; otherwise fails the test with its output.</summary>
    public CommandResult MustSucceed() =>
        Succeeded ? this : throw new CommandFailedException(Describe());
}

public sealed class CommandFailedException(string message) : Exception(message);
