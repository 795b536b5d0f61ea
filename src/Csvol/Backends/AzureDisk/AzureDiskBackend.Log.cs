namespace Csvol.Backends.AzureDisk;

internal sealed partial class AzureDiskBackend
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: created Azure disk {DiskId} (zone {Zone})")]
    private partial void LogCreated(string volume, string diskId, string zone);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: deleted Azure disk {DiskId}")]
    private partial void LogDeleted(string volume, string diskId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: attaching disk {Disk} at LUN {Lun}")]
    private partial void LogAttaching(string volume, string disk, int lun);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: detaching disk {Disk} from VM {Vm}")]
    private partial void LogDetaching(string volume, string disk, string vm);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: attach of disk {Disk} raced ({Code}); looking again")]
    private partial void LogAttachRaced(string volume, string disk, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: attach of disk {Disk} at LUN {Lun} unfinished after {Seconds} s; that LUN is avoided")]
    private partial void LogAttachStuck(string volume, string disk, int lun, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: taking disk {Disk} over from VM {Vm}, which is {State}")]
    private partial void LogTakeover(string volume, string disk, string vm, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Azure disk {Disk} is tagged as csvol volume {Volume} but its options tag cannot be read; not listed")]
    private partial void LogUnreadableOptions(string disk, string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: could not check its Azure disk; its record is kept")]
    private partial void LogCheckFailed(Exception exception, string volume);
}
