namespace Csvol.FakeCloud.Arm;

/// <summary>The power states a test sets on a fake VM; the instance view reports them as <c>PowerState/{name}</c>.</summary>
public enum FakeVmPowerState
{
    Running,

    /// <summary>Powered off but still allocated: disks stay <c>Attached</c>.</summary>
    Stopped,

    /// <summary>Released from its host: attached disks report <c>Reserved</c>.</summary>
    Deallocated,
}
