using Microsoft.AspNetCore.Http;

namespace Csvol.FakeCloud.Ec2;

/// <summary>Reads the EC2 Query protocol's form fields; lists are numbered from 1 (<c>VolumeId.1</c>, <c>Filter.1.Value.1</c>).</summary>
internal sealed class QueryRequest(IFormCollection form)
{
    public string Action => Get("Action") ?? "";

    public string? Get(string name) => form.TryGetValue(name, out var value) && value.Count > 0 ? value[0] : null;

    public string Required(string name) => Get(name) ?? throw Ec2Error.Missing(name);

    public int? Int(string name)
    {
        var text = Get(name);
        if (text is null)
        {
            return null;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Ec2Error.Invalid($"Invalid value '{text}' for {name}");
    }

    public bool Bool(string name) => string.Equals(Get(name), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The values of <c>prefix.1</c>, <c>prefix.2</c>, … up to the first gap.</summary>
    public List<string> List(string prefix)
    {
        var values = new List<string>();
        for (var i = 1; Get($"{prefix}.{i}") is { } value; i++)
        {
            values.Add(value);
        }

        return values;
    }

    /// <summary><c>Filter.N.Name</c> with its <c>Filter.N.Value.M</c>.</summary>
    public List<(string Name, List<string> Values)> Filters()
    {
        var filters = new List<(string, List<string>)>();
        for (var i = 1; Get($"Filter.{i}.Name") is { } name; i++)
        {
            filters.Add((name, List($"Filter.{i}.Value")));
        }

        return filters;
    }

    /// <summary>Tags under <c>prefix.N.Key/Value</c> (CreateTags: <c>Tag</c>; TagSpecification: <c>TagSpecification.N.Tag</c>).</summary>
    public Dictionary<string, string> Tags(string prefix)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; Get($"{prefix}.{i}.Key") is { } key; i++)
        {
            tags[key] = Get($"{prefix}.{i}.Value") ?? "";
        }

        return tags;
    }

    /// <summary>The tags of every <c>TagSpecification.N</c> for <paramref name="resourceType"/>; another type is refused, as EC2 does.</summary>
    public Dictionary<string, string> TagSpecifications(string resourceType)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; Get($"TagSpecification.{i}.ResourceType") is { } type; i++)
        {
            if (type != resourceType)
            {
                throw Ec2Error.Invalid($"'{type}' is not a valid taggable resource type for this operation.");
            }

            foreach (var (key, value) in Tags($"TagSpecification.{i}.Tag"))
            {
                tags[key] = value;
            }
        }

        return tags;
    }
}
