namespace Csvol.EndToEnd;

internal static class Placeholder;
