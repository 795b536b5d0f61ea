using System.Globalization;
using System.Text;

namespace Csvol.EndToEnd.Harness;

/// <summary>The host's mounts as /proc/self/mountinfo lists them.</summary>
public static class MountTable
{
    public sealed record Entry(string MountPoint, string FileSystemType);

    public static IReadOnlyList<Entry> Read() =>
        [.. File.ReadLines("/proc/self/mountinfo").Select(Parse)];

    public static IReadOnlyList<Entry> At(string mountPoint) =>
        [.. Read().Where(e => e.MountPoint == mountPoint)];

    private static Entry Parse(string line)
    {
        var fields = line.Split(' ');
        var separator = Array.IndexOf(fields, "-");
        return new Entry(Unescape(fields[4]), fields[separator + 1]);
    }

    // The kernel writes space, tab, newline and backslash as \ooo.
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length)
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }

    public static string Describe() =>
        string.Join('\n', Read().Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.MountPoint} ({e.FileSystemType})")));
}
