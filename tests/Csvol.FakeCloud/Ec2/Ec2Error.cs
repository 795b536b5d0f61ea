namespace Csvol.FakeCloud.Ec2;

/// <summary>An EC2 error answer: the code the SDK puts in <c>AmazonEC2Exception.ErrorCode</c>, and its HTTP status.</summary>
internal sealed class Ec2Error(string code, string message, int status = 400) : Exception(message)
{
    public string Code { get; } = code;

    public int Status { get; } = status;

    public static Ec2Error VolumeNotFound(string id) => new("InvalidVolume.NotFound", $"The volume '{id}' does not exist.");

    public static Ec2Error InstanceNotFound(string id) => new("InvalidInstanceID.NotFound", $"The instance ID '{id}' does not exist");

    public static Ec2Error SnapshotNotFound(string id) => new("InvalidSnapshot.NotFound", $"The snapshot '{id}' does not exist.");

    public static Ec2Error Missing(string parameter) => new("MissingParameter", $"The request must contain the parameter {parameter}");

    public static Ec2Error Invalid(string message) => new("InvalidParameterValue", message);
}
