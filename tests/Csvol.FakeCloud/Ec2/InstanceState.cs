namespace Csvol.FakeCloud.Ec2;

/// <summary>The instance states a test can set; names and codes are EC2's (<c>instanceState/name</c>, <c>code</c>).</summary>
public enum InstanceState
{
    Pending = 0,
    Running = 16,
    ShuttingDown = 32,
    Terminated = 48,
    Stopping = 64,
    Stopped = 80,
}

internal static class InstanceStateNames
{
    public static string WireName(this InstanceState state) => state switch
    {
        InstanceState.ShuttingDown => "shutting-down",
        _ => state.ToString().ToLowerInvariant(),
    };
}
