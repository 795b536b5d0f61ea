using System.Globalization;

namespace Csvol.Bench;

internal static class ProcStatus
{
    /// <summary>Peak (VmHWM) and current (VmRSS) resident memory of a process, in kB; zeros when it is gone.</summary>
    public static (long HwmKb, long RssKb) Memory(int pid)
    {
        long hwm = 0, rss = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length >= 2 && long.TryParse(fields[1], CultureInfo.InvariantCulture, out var kb))
                {
                    hwm = fields[0] == "VmHWM:" ? kb : hwm;
                    rss = fields[0] == "VmRSS:" ? kb : rss;
                }
            }
        }
        catch (IOException)
        {
            // exited meanwhile
        }

        return (hwm, rss);
    }
}
