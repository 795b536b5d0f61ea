namespace Csvol.Bench;

/// <summary>
/// csvol's own benchmark client, for machines without plugbench (../shared/tools/plugbench): load and cold give
/// the same figures and JSON fields as plugbench's modes of those names; alloc gives bytes allocated per request;
/// cloudmount times an EBS or Azure disk Mount against the fake cloud (tests/Csvol.FakeCloud).
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage:
          Csvol.Bench load  --sock PATH [--endpoint /VolumeDriver.Get] [--body '{"Name":"v1"}'] [--keyspace K]
                            [--n 20000] [--c 1] [--warmup 1000] [--pid PID]
          Csvol.Bench cold  --sock PATH [--runs 1] [--env NAME=VALUE]... -- COMMAND [ARGS...]
          Csvol.Bench alloc [--n 20000] [--mount-n 2000] [--warmup 1000]
          Csvol.Bench cloudmount [--cloud ebs|azure] [--bin PATH] [--volumes 10] [--warmup 1] [--size 1]
                            [--attach-delay-ms 500] [--detach-delay-ms 500] [--create-delay-ms 200] (ebs)
                            [--operation-delay-ms 500] (azure) [--work /var/tmp] [--env NAME=VALUE]...
        load:  N requests over C keep-alive connections (one thread each); latency percentiles and requests/s.
               "{{i}}" in the body is the request index, modulo K if given. --pid adds that process's VmHWM/VmRSS.
        cold:  launches COMMAND RUNS times; time from start to the first 200 from /Plugin.Activate, and RSS.
        alloc: as root, starts csvol in this process and reports managed bytes allocated per request on
               Capabilities, Get, Path, List (1 volume), and per Mount+Unmount pair (mount-n pairs,
               default N up to 2000: each pair mounts, unmounts and persists state, about 4 ms).
        cloudmount: as root, runs the published ebs binary (--bin, else $CSVOL_BIN) against the fake EC2 and IMDS,
               or with --cloud azure the azuredisk binary against the fake ARM and Azure IMDS, in this process (real
               loop devices, under a temp dir in --work). Per volume (SIZE GiB): Create, Mount
               (attach + mkfs.ext4 + mount), Unmount, Mount again, Unmount, Remove; p50/p90 of each Mount split into
               the fake's time, mkfs.ext4 (timed separately on the same host) and the plugin's overhead (the rest).
        Each prints one JSON object on one line to stdout.
        """;

    public static async Task<int> Main(string[] args)
    {
        try
        {
            switch (args.FirstOrDefault())
            {
                case "load":
                    LoadCommand.Run(CommandLine.Parse(args.AsSpan(1), LoadCommand.Options));
                    return 0;
                case "cold":
                    ColdCommand.Run(CommandLine.Parse(args.AsSpan(1), ColdCommand.Options));
                    return 0;
                case "alloc":
                    await AllocCommand.RunAsync(CommandLine.Parse(args.AsSpan(1), AllocCommand.Options));
                    return 0;
                case "cloudmount":
                    await CloudMountCommand.RunAsync(CommandLine.Parse(args.AsSpan(1), CloudMountCommand.Options));
                    return 0;
                case "-h" or "--help" or "help":
                    await Console.Error.WriteLineAsync(Usage);
                    return 0;
                default:
                    throw new UsageException(args.Length == 0 ? "no mode given" : $"unknown mode \"{args[0]}\"");
            }
        }
        catch (UsageException ex)
        {
            await Console.Error.WriteLineAsync($"csvol-bench: {ex.Message}\n{Usage}");
            return 2;
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"csvol-bench: {ex.Message}");
            return 1;
        }
    }
}
