using System.Text.Json.Nodes;

namespace Csvol.FakeCloud.Arm;

/// <summary>What the fake ARM answers: a status, a JSON body (or none) and headers such as <c>Azure-AsyncOperation</c>.</summary>
internal sealed record ArmAnswer(int Status, JsonNode? Body)
{
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ArmAnswer With(string header, string value)
    {
        Headers[header] = value;
        return this;
    }
}
