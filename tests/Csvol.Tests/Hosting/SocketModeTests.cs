using Csvol.Hosting;
using Csvol.Tests.Support;

namespace Csvol.Tests.Hosting;

public sealed class SocketModeTests : PluginHostTest
{
    [Fact]
    public void Socket_Listening_Mode0660NotTheUmasks()
    {
        var mode = File.GetUnixFileMode(Host.Settings.Socket);

        Assert.Equal(UnixSocket.Mode, mode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, mode);
    }
}
