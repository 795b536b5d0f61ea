namespace Csvol.Backends.Nfs;

internal sealed partial class NfsBackend
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: {Source} {How}")]
    private partial void LogCreated(string volume, string source, string how);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: removed; {Source} {How}")]
    private partial void LogRemoved(string volume, string source, string how);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: stale NFS file handle on {Mountpoint} ({Source}); mounting it again")]
    private partial void LogStale(string volume, string source, string mountpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: could not check {Source}; its record is kept")]
    private partial void LogCheckFailed(Exception exception, string volume, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not list the volumes on {Export}; its volumes as listed last time are kept")]
    private partial void LogExportNotListed(Exception exception, string export);

    [LoggerMessage(Level = LogLevel.Warning, Message = "csvol marker {Path} cannot be read (damaged, or from a newer csvol); that volume is not listed")]
    private partial void LogUnreadableMarker(string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Volume {Volume}: could not empty its data from {Trash}; the next Remove of that name tries again, or delete it by hand")]
    private partial void LogPurgeFailed(Exception exception, string volume, string trash);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removed data {Path} left in trash: {Mountpoints} are mount points, not deleted into")]
    private partial void LogTrashLeft(string path, string mountpoints);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Export root {Path}, left mounted by a crash, could not be unmounted; tried again at next start")]
    private partial void LogLeftoverNotUnmounted(Exception exception, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Volume {Volume}: undoing a failed Create did not succeed")]
    private partial void LogUndoFailed(Exception exception, string volume);
}
