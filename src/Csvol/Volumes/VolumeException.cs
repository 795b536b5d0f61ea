namespace Csvol.Volumes;

/// <summary>
/// A failure the caller can act on. Its message goes to Docker verbatim as the protocol's <c>Err</c>,
/// so it must say what was wrong and what would be valid.
/// </summary>
internal sealed class VolumeException(string message, Exception? inner = null) : Exception(message, inner);
