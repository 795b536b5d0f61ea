namespace Csvol.EndToEnd.Harness;

/// <summary>Tests on the managed plugin; runs in parallel with <see cref="UnmanagedCollection"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ManagedCollection : ICollectionFixture<ManagedPluginFixture>
{
    public const string Name = "managed csvol/local";
}

/// <summary>Tests on csvol running as a host process.</summary>
[CollectionDefinition(Name)]
public sealed class UnmanagedCollection : ICollectionFixture<UnmanagedPluginFixture>
{
    public const string Name = "unmanaged csvol";
}

/// <summary>
/// Tests that change the daemon for everyone (restart, plugin disable, prune); xUnit runs this collection
/// alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DaemonWideCollection : ICollectionFixture<ManagedPluginFixture>, ICollectionFixture<UnmanagedPluginFixture>
{
    public const string Name = "daemon-wide";
}
