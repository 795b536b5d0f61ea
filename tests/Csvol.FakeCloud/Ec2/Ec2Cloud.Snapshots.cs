using Csvol.FakeCloud.Devices;

namespace Csvol.FakeCloud.Ec2;

internal sealed partial class Ec2Cloud
{
    private async Task<string> CreateSnapshotAsync(QueryRequest request, string requestId, CancellationToken cancellationToken)
    {
        var volumeId = request.Required("VolumeId");
        FakeSnapshot snapshot;
        lock (_gate)
        {
            var volume = Volume(volumeId);
            snapshot = new FakeSnapshot
            {
                Id = NewId("snap"),
                VolumeId = volumeId,
                VolumeSize = volume.Size,
                StartTime = time.GetUtcNow(),
                Description = request.Get("Description"),
                Encrypted = volume.Encrypted,
            };
            foreach (var (key, value) in request.TagSpecifications("snapshot"))
            {
                snapshot.Tags[key] = value;
            }
        }

        // The data is copied at once (EC2 takes a point-in-time copy when the call returns); "completed" comes later.
        if (_devices is not null && File.Exists(_devices.DataFile(volumeId)))
        {
            await _deviceLock.WaitAsync(cancellationToken);
            try
            {
                SparseFiles.Copy(_devices.DataFile(volumeId), _devices.DataFile(snapshot.Id));
            }
            finally
            {
                _ = _deviceLock.Release();
            }
        }

        lock (_gate)
        {
            _snapshots[snapshot.Id] = snapshot;
            Later(CreateDelay, gate: null, _ => CompleteSnapshot(snapshot));
            using var xml = new Ec2Xml("CreateSnapshot", requestId);
            WriteSnapshot(xml, snapshot);
            return xml.Finish();
        }
    }

    private Task CompleteSnapshot(FakeSnapshot snapshot)
    {
        lock (_gate)
        {
            snapshot.State = "completed";
        }

        return Task.CompletedTask;
    }

    private string DescribeSnapshots(QueryRequest request, string requestId)
    {
        var ids = request.List("SnapshotId");
        var filters = request.Filters();
        lock (_gate)
        {
            var selected = ids.Count > 0
                ? ids.Select(id => _snapshots.GetValueOrDefault(id) ?? throw Ec2Error.SnapshotNotFound(id)).ToList()
                : [.. _snapshots.Values.OrderBy(s => s.StartTime)];
            using var xml = new Ec2Xml("DescribeSnapshots", requestId);
            xml.Start("snapshotSet");
            foreach (var snapshot in selected.Where(s => filters.All(f => SnapshotMatches(s, f.Name, f.Values))))
            {
                xml.Start("item");
                WriteSnapshot(xml, snapshot);
                xml.End();
            }

            xml.End();
            return xml.Finish();
        }
    }

    private static bool SnapshotMatches(FakeSnapshot snapshot, string name, List<string> values) => name switch
    {
        "snapshot-id" => values.Contains(snapshot.Id),
        "volume-id" => values.Contains(snapshot.VolumeId),
        "status" => values.Contains(snapshot.State),
        "tag-key" => snapshot.Tags.Keys.Any(values.Contains),
        _ when name.StartsWith("tag:", StringComparison.Ordinal) => snapshot.Tags.TryGetValue(name[4..], out var value) && values.Contains(value),
        _ => throw Ec2Error.Invalid($"The filter '{name}' is invalid"),
    };

    private static void WriteSnapshot(Ec2Xml xml, FakeSnapshot snapshot)
    {
        xml.Element("snapshotId", snapshot.Id);
        xml.Element("volumeId", snapshot.VolumeId);
        xml.Element("status", snapshot.State);
        xml.Element("startTime", snapshot.StartTime);
        xml.Element("progress", snapshot.State == "completed" ? "100%" : "0%");
        xml.Element("ownerId", FakeEc2Server.AccountId);
        xml.Element("volumeSize", snapshot.VolumeSize);
        xml.Element("description", snapshot.Description ?? "");
        xml.Element("encrypted", snapshot.Encrypted);
        xml.TagSet(snapshot.Tags);
    }
}
