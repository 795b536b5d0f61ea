namespace Csvol.EndToEnd.AzureDisk;

/// <summary>
/// csvol/azuredisk on two private dockerds of its own (<see cref="AzureDiskHostsFixture"/>). Like the EBS collection it
/// runs alone, after the parallel collections: dockerd asks every unmanaged plugin socket in /run/docker/plugins during
/// <c>docker volume ls</c>, and the shared unmanaged csvol of the other collections must not become a driver these
/// daemons remember.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AzureDiskTwoHostCollection : ICollectionFixture<AzureDiskHostsFixture>
{
    public const string Name = "csvol/azuredisk on two hosts";
}
