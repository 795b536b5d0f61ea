namespace Csvol.Backends.Ebs;

internal sealed partial class EbsBackend
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: created EBS volume {VolumeId} in {Zone}")]
    private partial void LogCreated(string volume, string volumeId, string zone);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: deleted EBS volume {VolumeId}")]
    private partial void LogDeleted(string volume, string volumeId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: attaching EBS volume {VolumeId} at {Device}")]
    private partial void LogAttaching(string volume, string volumeId, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: attach of {VolumeId} raced ({Code}); looking again")]
    private partial void LogAttachRaced(string volume, string volumeId, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: EBS volume {VolumeId} still attaching at {Device} after {Seconds} s; detaching it and avoiding that name")]
    private partial void LogAttachStuck(string volume, string volumeId, string device, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: taking EBS volume {VolumeId} over from instance {Instance}, which is {State} (forced detach)")]
    private partial void LogTakeover(string volume, string volumeId, string instance, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "EBS volume {VolumeId} is tagged as csvol volume {Volume} but its options tag cannot be read; not listed")]
    private partial void LogUnreadableOptions(string volumeId, string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: could not check EBS volume {VolumeId}; its record is kept")]
    private partial void LogCheckFailed(Exception exception, string volume, string volumeId);
}
