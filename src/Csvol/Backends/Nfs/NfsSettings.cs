namespace Csvol.Backends.Nfs;

/// <summary>The NFS backend's settings, read from the same variables as csvol's own; a bad one stops start-up naming it.</summary>
internal sealed record NfsSettings
{
    public const string ServerVariable = "CSVOL_NFS_SERVER";
    public const string ShareVariable = "CSVOL_NFS_SHARE";
    public const string OptionsVariable = "CSVOL_NFS_OPTIONS";
    public const string TimeoutVariable = "CSVOL_NFS_TIMEOUT";

    /// <summary>The default server of volumes that name none; its share is also the one discovery reads.</summary>
    public string? Server { get; init; }

    public string? Share { get; init; }

    /// <summary>Mount options every volume gets; a volume's own <c>o</c> comes after them.</summary>
    public string? Options { get; init; }

    /// <summary>
    /// How long one step that can block on the server (mount.nfs, a stat, a mkdir, an unmount) may take before csvol
    /// gives up on it and answers Docker with an Err naming the server. Several steps make one call, so keep it well
    /// under CSVOL_CALL_DEADLINE.
    /// </summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(8);

    public static NfsSettings From(IConfiguration configuration)
    {
        string? Value(string key) => SettingText.Value(configuration, key);

        var settings = new NfsSettings();
        if (Value(ServerVariable) is { } server)
        {
            settings = settings with
            {
                Server = NfsOptions.NormalizeServer(server)
                    ?? throw new InvalidOperationException($"{ServerVariable}=\"{server}\" must be a host name, an IPv4 address or an [IPv6] address"),
            };
        }

        if (Value(ShareVariable) is { } share)
        {
            settings = settings with
            {
                Share = NfsOptions.NormalizeShare(share)
                    ?? throw new InvalidOperationException($"{ShareVariable}=\"{share}\" must be an absolute path such as /exports/team, without '..' or commas"),
            };
        }

        if (Value(OptionsVariable) is { } options)
        {
            _ = NfsMountOptions.Parse(options, out var problem)
                ?? throw new InvalidOperationException($"{OptionsVariable}=\"{options}\" is refused: expected {problem}");
            settings = settings with { Options = options };
        }

        return settings with { StepTimeout = SettingText.Seconds(TimeoutVariable, Value(TimeoutVariable), 1, 300) ?? settings.StepTimeout };
    }

    /// <summary>The export discovery reads: the plugin's default one, when both parts are set.</summary>
    public NfsExport? DefaultExport => Server is not null && Share is not null ? new NfsExport(Server, Share) : null;
}
