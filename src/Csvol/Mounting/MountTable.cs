using System.Text;

namespace Csvol.Mounting;

/// <summary>Reads mount points from a mountinfo file (proc(5)); field 5 is the mount point.</summary>
internal static class MountTable
{
    public static IReadOnlySet<string> ReadMountpoints(string mountinfoPath)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(mountinfoPath))
        {
            if (ParseMountpoint(line) is { } mountpoint)
            {
                result.Add(mountpoint);
            }
        }

        return result;
    }

    public static string? ParseMountpoint(string line)
    {
        var span = line.AsSpan();
        for (var field = 0; field < 4; field++)
        {
            var space = span.IndexOf(' ');
            if (space < 0)
            {
                return null;
            }

            span = span[(space + 1)..];
        }

        var end = span.IndexOf(' ');
        return Unescape(end < 0 ? span : span[..end]);
    }

    // The kernel writes space, tab, newline and backslash in paths as three-digit octal escapes.
    private static string Unescape(ReadOnlySpan<char> field)
    {
        if (field.IndexOf('\\') < 0)
        {
            return field.ToString();
        }

        var builder = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                builder.Append((char)(((field[i + 1] - '0') * 64) + ((field[i + 2] - '0') * 8) + (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                builder.Append(field[i]);
            }
        }

        return builder.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
