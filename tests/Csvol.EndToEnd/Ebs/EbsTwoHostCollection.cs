namespace Csvol.EndToEnd.Ebs;

/// <summary>
/// csvol/ebs on two private dockerds of its own (<see cref="EbsHostsFixture"/>). It runs alone, after the parallel
/// collections: dockerd asks every unmanaged plugin socket in /run/docker/plugins during <c>docker volume ls</c>, and
/// the shared unmanaged csvol of the other collections must not become a driver these daemons remember.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EbsTwoHostCollection : ICollectionFixture<EbsHostsFixture>
{
    public const string Name = "csvol/ebs on two hosts";
}
