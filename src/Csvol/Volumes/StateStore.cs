using System.Text.Json;

namespace Csvol.Volumes;

/// <summary>How long a saved record must last.</summary>
internal enum Durability
{
    /// <summary>Survives a crash of the plugin (the page cache does): enough for mount IDs, which a power loss voids anyway.</summary>
    ProcessCrash,

    /// <summary>Survives a power loss: fsync of the file and of its directory. For Create and Remove.</summary>
    PowerLoss,
}

internal interface IStateStore
{
    /// <summary>Every readable record; unreadable ones are set aside and logged.</summary>
    /// <exception cref="StateVersionException">A record was written by a newer csvol.</exception>
    IReadOnlyList<VolumeRecord> LoadAll();

    void Save(VolumeRecord record, Durability durability);

    void Delete(string name);
}

/// <summary>A record written by a newer csvol: start-up stops rather than set aside data it cannot read.</summary>
internal sealed class StateVersionException(string message) : Exception(message);

/// <summary>One JSON file per volume, <c>&lt;state dir&gt;/volumes/&lt;name&gt;.json</c>, replaced atomically.</summary>
internal sealed partial class FileStateStore : IStateStore
{
    private const string Extension = ".json";
    private readonly string _directory;
    private readonly ILogger<FileStateStore> _logger;
    private readonly TimeProvider _time;

    public FileStateStore(string stateDirectory, ILogger<FileStateStore> logger, TimeProvider time)
    {
        _directory = Path.Combine(stateDirectory, "volumes");
        _logger = logger;
        _time = time;
        Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public string PathOf(string name) => Path.Combine(_directory, name + Extension);

    public IReadOnlyList<VolumeRecord> LoadAll()
    {
        var records = new List<VolumeRecord>();
        foreach (var file in Directory.EnumerateFiles(_directory))
        {
            var fileName = Path.GetFileName(file);
            if (fileName.EndsWith(DurableFile.TempSuffix, StringComparison.Ordinal))
            {
                // A write that a crash interrupted before its rename: the previous record is intact.
                File.Delete(file);
                continue;
            }

            if (!fileName.EndsWith(Extension, StringComparison.Ordinal))
            {
                continue;
            }

            if (TryLoad(file, fileName[..^Extension.Length]) is { } record)
            {
                records.Add(record);
            }
        }

        return records;
    }

    private VolumeRecord? TryLoad(string file, string expectedName)
    {
        string? problem;
        try
        {
            var record = JsonSerializer.Deserialize(File.ReadAllBytes(file), StateJsonContext.Default.VolumeRecord);
            if (record is { Version: > VolumeRecord.CurrentVersion })
            {
                // Setting it aside would hide the volume from the newer csvol when it comes back; stop instead.
                throw new StateVersionException(
                    $"state record {file} has version {record.Version}, newer than this csvol understands " +
                    $"({VolumeRecord.CurrentVersion}): it was written by a newer csvol; install that version again " +
                    "(records are never converted back to an older version)");
            }

            record = record?.Upgraded();
            problem = record is null ? "the file holds no record" : record.Problem(expectedName);
            if (problem is null)
            {
                return record;
            }
        }
        catch (JsonException ex)
        {
            problem = ex.Message;
        }

        // Keep the bytes for a human instead of deleting them; the volume is no longer offered.
        var quarantine = $"{file}.corrupt-{_time.GetUtcNow().ToUnixTimeSeconds()}";
        File.Move(file, quarantine, overwrite: true);
        LogCorruptRecord(file, quarantine, problem);
        return null;
    }

    public void Save(VolumeRecord record, Durability durability) =>
        DurableFile.WriteAtomically(
            PathOf(record.Name),
            JsonSerializer.SerializeToUtf8Bytes(record, StateJsonContext.Default.VolumeRecord),
            durability);

    public void Delete(string name) => DurableFile.Delete(PathOf(name));

    [LoggerMessage(Level = LogLevel.Error,
        Message = "State record {File} is unusable ({Problem}); moved it to {Quarantine} and skipped the volume")]
    private partial void LogCorruptRecord(string file, string quarantine, string problem);
}
