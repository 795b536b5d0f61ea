namespace Csvol.FakeCloud.Arm;

/// <summary>An ARM error answer: <c>{"error":{"code","message"}}</c> with its HTTP status.</summary>
internal sealed class ArmError(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;

    /// <summary>Sent as <c>Retry-After</c> (whole seconds), as ARM does with 429.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static ArmError NotFound(string type, string name, string resourceGroup) =>
        new(404, "ResourceNotFound", $"The Resource '{type}/{name}' under resource group '{resourceGroup}' was not found.");

    public static ArmError Invalid(string message) => new(400, "InvalidParameter", message);

    public static ArmError Conflict(string code, string message) => new(409, code, message);
}
