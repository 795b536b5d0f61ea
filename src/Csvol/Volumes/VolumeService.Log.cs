namespace Csvol.Volumes;

internal sealed partial class VolumeService
{
    [LoggerMessage(Level = LogLevel.Information, Message = "State loaded: {Volumes} volumes, {Mounted} held by containers; restoring in the background")]
    private partial void LogLoaded(int volumes, int mounted);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restored: {Volumes} volumes, {Mounted} held by containers")]
    private partial void LogReady(int volumes, int mounted);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Could not load state; csvol cannot serve volumes")]
    private partial void LogInitializationFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Record of volume {Volume} belongs to backend {Owner}, not {Backend}; ignored")]
    private partial void LogForeignRecord(string volume, string owner, string backend);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Volume {Volume}: {Ids} mount IDs were recorded before the host rebooted; Docker will never unmount them, so they were dropped")]
    private partial void LogIdsFromEarlierBoot(string volume, int ids);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume} had no storage left: completed its interrupted remove")]
    private partial void LogCompletedInterruptedRemove(string volume);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Volume {Volume}: the backend says its storage is gone, but {Ids} container mount(s) hold it; record kept")]
    private partial void LogGoneButHeld(string volume, int ids);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: the backend could not say whether its storage exists; record kept")]
    private partial void LogStateUnknown(string volume);

    [LoggerMessage(Level = LogLevel.Error, Message = "Volume {Volume}: restoring it after the start failed; its record is kept as it was")]
    private partial void LogRestoreFailed(Exception exception, string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: checking its storage failed")]
    private partial void LogCheckFailed(Exception exception, string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume} was held by {Ids} mount IDs but not mounted: mounted it again")]
    private partial void LogRemounted(string volume, int ids);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Volume {Volume} could not be mounted again; its mount IDs are kept and it is retried every {Seconds} s")]
    private partial void LogRemountFailed(Exception exception, string volume, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume} is held by {Ids} mount IDs but was not mounted; mounting it")]
    private partial void LogMountMissing(string volume, int ids);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Volume {Volume}: its mount is stale (the backend says it no longer works); mounting it again")]
    private partial void LogMountStale(string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Released volume {Volume}: no mount ID held its mount (left by a crash or a failed unmount)")]
    private partial void LogReleased(string volume);

    [LoggerMessage(Level = LogLevel.Error, Message = "Volume {Volume}: releasing its mount failed; retried every {Seconds} s")]
    private partial void LogReleaseFailed(Exception exception, string volume, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Collecting leftovers of removed volumes failed; tried again at the next start")]
    private partial void LogGarbageCollectionFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Remove of unknown volume {Volume}: nothing to do")]
    private partial void LogRemoveOfUnknown(string volume);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unmount of {Volume} with ID {Id} that holds no mount: nothing to do")]
    private partial void LogUnmountOfUnknownId(string volume, string id);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not undo a half-done change to volume {Volume}")]
    private partial void LogUndoFailed(Exception exception, string volume);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: made on another host; this host keeps a record of it now")]
    private partial void LogAdoptedDiscovered(string volume);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume}: its storage already existed and was adopted, not made")]
    private partial void LogAdoptedStorage(string volume);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The backend's volume list did not come within {Seconds} s of start; answering without it until it does")]
    private partial void LogFirstDiscoverySlow(double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listing the backend's volumes failed; keeping the last known {Known}")]
    private partial void LogDiscoveryFailed(Exception exception, int known);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The backend lists a volume named {Volume}, which is not a valid name ({Problem}); ignored")]
    private partial void LogDiscoveredInvalid(string volume, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Volume {Volume} was removed on another host; dropped its record")]
    private partial void LogRemovedElsewhere(string volume);
}
