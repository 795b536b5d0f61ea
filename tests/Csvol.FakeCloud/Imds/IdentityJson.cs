using System.Text.Json.Serialization;

namespace Csvol.FakeCloud.Imds;

[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class IdentityJson : JsonSerializerContext;
