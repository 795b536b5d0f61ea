using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Csvol.FakeCloud.Devices;

namespace Csvol.FakeCloud.Arm;

internal sealed partial class ArmCloud
{
    private async Task<ArmAnswer> SnapshotsAsync(ArmRequest request)
    {
        if (request.Name is null)
        {
            return request.Method == "GET" ? ListSnapshots(request) : throw new ArmError(405, "MethodNotAllowed", $"{request.Method} on a snapshot collection");
        }

        var id = ResourceId(request.ResourceGroup!, "snapshots", request.Name);
        return request.Method switch
        {
            "GET" => GetSnapshot(request, id),
            "PUT" => await PutSnapshotAsync(request, id),
            "DELETE" => await DeleteSnapshotAsync(request, id),
            _ => throw new ArmError(405, "MethodNotAllowed", $"{request.Method} on a snapshot"),
        };
    }

    private ArmAnswer GetSnapshot(ArmRequest request, string id)
    {
        lock (_gate)
        {
            return _snapshots.TryGetValue(id, out var snapshot)
                ? new ArmAnswer(200, ArmJson.Snapshot(snapshot))
                : throw ArmError.NotFound("Microsoft.Compute/snapshots", request.Name!, request.ResourceGroup!);
        }
    }

    private ArmAnswer ListSnapshots(ArmRequest request)
    {
        lock (_gate)
        {
            RequireResourceGroup(request.ResourceGroup!);
            return Page(request, [.. _snapshots.Values
                .Where(s => s.ResourceGroup.Equals(request.ResourceGroup, StringComparison.OrdinalIgnoreCase))
                .OrderBy(s => s.TimeCreated)
                .Select(ArmJson.Snapshot)]);
        }
    }

    /// <summary>The data is copied when the operation runs: a snapshot of an attached disk is crash-consistent, as on Azure.</summary>
    private async Task<ArmAnswer> PutSnapshotAsync(ArmRequest request, string id)
    {
        var body = request.Body as JsonObject ?? throw new ArmError(400, "InvalidRequestContent", "The request content was empty.");
        ArmSnapshot snapshot;
        string? sourceUnique = null;
        lock (_gate)
        {
            RequireResourceGroup(request.ResourceGroup!);
            if (_snapshots.TryGetValue(id, out var existing))
            {
                if (body["tags"] is JsonObject tags)
                {
                    existing.Tags = tags.ToDictionary(t => t.Key, t => t.Value?.GetValue<string>() ?? "", StringComparer.Ordinal);
                }

                snapshot = existing;
            }
            else
            {
                var creation = body["properties"]?["creationData"] as JsonObject ?? throw ArmError.Invalid("Required parameter 'creationData' is missing (null).");
                if (creation["createOption"]?.GetValue<string>() != "Copy")
                {
                    throw ArmError.Invalid("The fake ARM makes snapshots with createOption Copy only.");
                }

                var source = creation["sourceResourceId"]?.GetValue<string>() ?? throw ArmError.Invalid("Required parameter 'sourceResourceId' is missing (null).");
                var disk = _disks.GetValueOrDefault(source) ?? throw new ArmError(404, "NotFound", $"Resource {source} is not found.");
                sourceUnique = disk.UniqueId;
                snapshot = new ArmSnapshot
                {
                    Id = id,
                    Name = request.Name!,
                    ResourceGroup = request.ResourceGroup!,
                    Location = body["location"]?.GetValue<string>() ?? throw new ArmError(400, "LocationRequired", "The location property is required for this definition."),
                    UniqueId = Guid.NewGuid().ToString(),
                    TimeCreated = _time.GetUtcNow(),
                    SourceResourceId = disk.Id,
                    SourceUniqueId = disk.UniqueId,
                    SizeGiB = disk.SizeGiB,
                    Incremental = body["properties"]?["incremental"]?.GetValue<bool>() ?? false,
                    Tags = body["tags"] is JsonObject tags ? tags.ToDictionary(t => t.Key, t => t.Value?.GetValue<string>() ?? "", StringComparer.Ordinal) : new(StringComparer.Ordinal),
                };
                _snapshots[id] = snapshot;
            }
        }

        var operation = await StartOperationAsync(async cancellationToken =>
        {
            if (_files is not null && sourceUnique is not null && File.Exists(_files.DataFile(sourceUnique)))
            {
                await _deviceLock.WaitAsync(CancellationToken.None);
                try
                {
                    SparseFiles.Copy(_files.DataFile(sourceUnique), _files.DataFile(snapshot.UniqueId));
                }
                finally
                {
                    _ = _deviceLock.Release();
                }
            }

            lock (_gate)
            {
                snapshot.ProvisioningState = "Succeeded";
            }
        });
        lock (_gate)
        {
            return Accepted(request, operation, 202, ArmJson.Snapshot(snapshot), withLocation: false);
        }
    }

    private async Task<ArmAnswer> DeleteSnapshotAsync(ArmRequest request, string id)
    {
        ArmSnapshot? snapshot;
        lock (_gate)
        {
            if (!_snapshots.Remove(id, out snapshot))
            {
                return new ArmAnswer(204, null);
            }
        }

        var operation = await StartOperationAsync(_ =>
        {
            _files?.DeleteFile(snapshot.UniqueId);
            return Task.CompletedTask;
        });
        lock (_gate)
        {
            return Accepted(request, operation, 202, body: null, withLocation: true);
        }
    }

    /// <summary>
    /// <c>GET /subscriptions/S/resourceGroups/RG/resources?$filter=…</c>: the resource group's disks, snapshots
    /// and VMs in the generic envelope. Filters: <c>tagName eq 'K'</c> (optionally <c>and tagValue eq 'V'</c>),
    /// <c>resourceType eq 'T'</c>, <c>name eq 'N'</c>, joined by <c>and</c>; anything else is refused as ARM does.
    /// </summary>
    private ArmAnswer ListGeneric(ArmRequest request)
    {
        var conditions = ParseFilter(request.Query["$filter"].ToString());
        lock (_gate)
        {
            RequireResourceGroup(request.ResourceGroup!);
            var now = _time.GetUtcNow();
            IEnumerable<JsonObject> all =
            [
                .. _disks.Values.OrderBy(d => d.TimeCreated).Select(d => ArmJson.Disk(d, DiskState(d))),
                .. _snapshots.Values.OrderBy(s => s.TimeCreated).Select(ArmJson.Snapshot),
                .. _vms.Values.Select(v => ArmJson.VirtualMachine(v, v.ProvisioningState, withInstanceView: false, now)),
            ];
            var inGroup = all.Where(r => r["id"]!.GetValue<string>().StartsWith(
                $"/subscriptions/{Subscription}/resourceGroups/{request.ResourceGroup}/", StringComparison.OrdinalIgnoreCase));
            return Page(request, [.. inGroup.Where(r => Matches(r, conditions)).Select(ArmJson.Generic)]);
        }
    }

    private static Dictionary<string, string> ParseFilter(string filter)
    {
        var conditions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(filter))
        {
            return conditions;
        }

        foreach (var part in Regex.Split(filter.Trim(), @"\s+and\s+", RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1)))
        {
            var match = Regex.Match(part, @"^(tagName|tagValue|resourceType|name)\s+eq\s+'([^']*)'$", RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1));
            if (!match.Success || !conditions.TryAdd(match.Groups[1].Value, match.Groups[2].Value))
            {
                throw new ArmError(400, "InvalidFilterInQueryString", $"Invalid $filter '{filter}' specified in the query string.");
            }
        }

        if (conditions.ContainsKey("tagValue") && !conditions.ContainsKey("tagName"))
        {
            throw new ArmError(400, "InvalidFilterInQueryString", "tagValue requires tagName in $filter.");
        }

        return conditions;
    }

    private static bool Matches(JsonObject resource, Dictionary<string, string> conditions)
    {
        if (conditions.TryGetValue("resourceType", out var type) && !type.Equals(resource["type"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (conditions.TryGetValue("name", out var name) && !name.Equals(resource["name"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (conditions.TryGetValue("tagName", out var tagName))
        {
            // ARM matches tag names without regard to case, values exactly.
            var tag = (resource["tags"] as JsonObject)?.FirstOrDefault(t => t.Key.Equals(tagName, StringComparison.OrdinalIgnoreCase));
            if (tag?.Key is null || (conditions.TryGetValue("tagValue", out var value) && tag.Value.Value?.GetValue<string>() != value))
            {
                return false;
            }
        }

        return true;
    }
}
