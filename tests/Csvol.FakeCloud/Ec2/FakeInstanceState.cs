namespace Csvol.FakeCloud.Ec2;

/// <summary>The instance states a test can set (named apart from the SDK's InstanceState); names and codes are EC2's (<c>instanceState/name</c>, <c>code</c>).</summary>
public enum FakeInstanceState
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
    public static string WireName(this FakeInstanceState state) => state switch
    {
        FakeInstanceState.ShuttingDown => "shutting-down",
        _ => state.ToString().ToLowerInvariant(),
    };
}
