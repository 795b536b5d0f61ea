using System.Text.Json;

namespace Csvol.Volumes;

internal interface IStateStore
{
    IReadOnlyList<VolumeRecord> LoadAll();

    void Save(VolumeRecord record);

    void Delete(string name);
}

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
        Directory.CreateDirectory(_directory);
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
            problem = record switch
            {
                null => "the file holds no record",
                { Version: > VolumeRecord.CurrentVersion } =>
                    $"record version {record.Version} is newer than this csvol understands ({VolumeRecord.CurrentVersion})",
                _ when record.Name != expectedName => $"it names volume \"{record.Name}\", not \"{expectedName}\"",
                _ when VolumeName.Check(record.Name) is { } bad => bad,
                _ => null,
            };
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

    public void Save(VolumeRecord record) =>
        DurableFile.WriteAtomically(
            PathOf(record.Name),
            JsonSerializer.SerializeToUtf8Bytes(record, StateJsonContext.Default.VolumeRecord));

    public void Delete(string name) => DurableFile.Delete(PathOf(name));

    [LoggerMessage(Level = LogLevel.Error,
        Message = "State record {File} is unreadable ({Problem}); moved it to {Quarantine} and skipped the volume")]
    private partial void LogCorruptRecord(string file, string quarantine, string problem);
}
