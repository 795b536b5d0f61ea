namespace Csvol.Tests.Support;

internal static class Root
{
    /// <summary>Tests that mount need CAP_SYS_ADMIN; they fail (never skip) without it.</summary>
    public static void Require() =>
        Assert.True(Environment.IsPrivilegedProcess, "this test mounts file systems and must run as root (sudo make test)");
}
