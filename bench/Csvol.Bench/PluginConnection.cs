using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;

namespace Csvol.Bench;

/// <summary>
/// One keep-alive HTTP/1.1 connection to a plugin's Unix socket, driven by one thread with blocking Send and
/// Receive into reused buffers. A request costs it no managed allocation once its buffer has grown to the
/// largest response, so load measures the plugin rather than the client and alloc can subtract the client's
/// share exactly. It parses just enough HTTP: the status line, Content-Length, chunked bodies, Connection: close.
/// </summary>
internal sealed class PluginConnection(string socketPath, TimeSpan timeout) : IDisposable
{
    private const int MaxHeaderBytes = 64 * 1024;

    private readonly UnixDomainSocketEndPoint _endpoint = new(socketPath);
    private Socket? _socket;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start; // _buffer[_start.._end] is received and not yet parsed
    private int _end;
    private byte[] _chunks = [];
    private byte[] _bodyArray = [];
    private int _bodyOffset;
    private int _bodyLength;

    /// <summary>Connections opened by <see cref="Send"/> after an earlier one failed or was closed by the plugin.</summary>
    public int Reconnects { get; private set; }

    /// <summary>The last response's body; valid until the next <see cref="Send"/>.</summary>
    public ReadOnlySpan<byte> Body => _bodyArray.AsSpan(_bodyOffset, _bodyLength);

    public void Connect()
    {
        Close();
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.SendTimeout = socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            socket.Connect(_endpoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        _start = _end = 0;
    }

    /// <summary>
    /// Sends one request and reads its whole response; returns the status. A transport or protocol error closes
    /// the connection and throws; the next call connects again.
    /// </summary>
    public int Send(ReadOnlySpan<byte> request)
    {
        if (_socket is null)
        {
            Connect();
            Reconnects++;
        }

        try
        {
            while (!request.IsEmpty)
            {
                request = request[_socket!.Send(request)..];
            }

            var (status, keepAlive) = ReadResponse();
            if (!keepAlive)
            {
                Close();
            }

            return status;
        }
        catch
        {
            Close();
            throw;
        }
    }

    /// <summary>The text of a <c>"Err":"…"</c> member, empty when there is none: a cheap scan, as plugbench does.</summary>
    public static ReadOnlySpan<byte> ErrOf(ReadOnlySpan<byte> body)
    {
        var at = body.IndexOf("\"Err\""u8);
        if (at < 0)
        {
            return default;
        }

        var rest = body[(at + 5)..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != ':')
        {
            return default;
        }

        rest = rest[1..].TrimStart(" \t\r\n"u8);
        if (rest.Length < 2 || rest[0] != '"')
        {
            return default; // null or not a string
        }

        var end = rest[1..].IndexOf((byte)'"');
        return end <= 0 ? default : rest.Slice(1, end);
    }

    public void Dispose() => Close();

    private void Close()
    {
        _socket?.Dispose();
        _socket = null;
    }

    private (int Status, bool KeepAlive) ReadResponse()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }

        var statusLine = ReadLine();
        if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1."u8) ||
            !Utf8Parser.TryParse(statusLine.Slice(9, 3), out int status, out _))
        {
            throw new IOException("malformed status line: " + Encoding.UTF8.GetString(statusLine));
        }

        var keepAlive = statusLine[7] != '0'; // HTTP/1.1 keeps the connection unless told otherwise
        long contentLength = -1;
        var chunked = false;
        for (var line = ReadLine(); !line.IsEmpty; line = ReadLine())
        {
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                throw new IOException("malformed header line: " + Encoding.UTF8.GetString(line));
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out contentLength, out var used) || used != value.Length || contentLength < 0)
                {
                    throw new IOException("malformed Content-Length: " + Encoding.UTF8.GetString(value));
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                keepAlive = Ascii.EqualsIgnoreCase(value, "keep-alive"u8) || (keepAlive && !Ascii.EqualsIgnoreCase(value, "close"u8));
            }
        }

        if (status is 204 or 304 || (status < 200 && status >= 100))
        {
            SetBody(_buffer, _start, 0);
        }
        else if (chunked)
        {
            ReadChunkedBody();
        }
        else if (contentLength >= 0)
        {
            var length = checked((int)contentLength);
            Need(length);
            SetBody(_buffer, _start, length);
            _start += length;
        }
        else
        {
            ReadBodyToEnd();
            keepAlive = false;
        }

        return (status, keepAlive);
    }

    private void ReadChunkedBody()
    {
        var length = 0;
        while (true)
        {
            var line = ReadLine();
            var extension = line.IndexOf((byte)';');
            var sizeText = (extension < 0 ? line : line[..extension]).Trim(" \t"u8);
            if (!Utf8Parser.TryParse(sizeText, out int size, out var used, 'x') || used != sizeText.Length || size < 0)
            {
                throw new IOException("malformed chunk size: " + Encoding.UTF8.GetString(line));
            }

            if (size == 0)
            {
                while (!ReadLine().IsEmpty)
                {
                    // trailer fields: ignored
                }

                SetBody(_chunks, 0, length);
                return;
            }

            Need(size + 2);
            if (_chunks.Length < length + size)
            {
                Array.Resize(ref _chunks, Math.Max(length + size, _chunks.Length * 2));
            }

            _buffer.AsSpan(_start, size).CopyTo(_chunks.AsSpan(length));
            length += size;
            _start += size + 2; // and the CRLF after the data
        }
    }

    private void ReadBodyToEnd()
    {
        while (true)
        {
            if (_end == _buffer.Length)
            {
                MakeRoom(_end - _start + 1);
            }

            var received = _socket!.Receive(_buffer.AsSpan(_end));
            if (received == 0)
            {
                break;
            }

            _end += received;
        }

        SetBody(_buffer, _start, _end - _start);
        _start = _end;
    }

    /// <summary>The next line without its CRLF; valid until the next read.</summary>
    private ReadOnlySpan<byte> ReadLine()
    {
        var scanned = 0;
        while (true)
        {
            var newline = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var line = _buffer.AsSpan(_start, scanned + newline);
                _start += scanned + newline + 1;
                return line.EndsWith("\r"u8) ? line[..^1] : line;
            }

            scanned = _end - _start;
            if (scanned >= MaxHeaderBytes)
            {
                throw new IOException($"response header line longer than {MaxHeaderBytes} bytes");
            }

            Need(scanned + 1);
        }
    }

    /// <summary>Receives until at least <paramref name="count"/> unparsed bytes are buffered.</summary>
    private void Need(int count)
    {
        if (_end - _start >= count)
        {
            return;
        }

        MakeRoom(count);
        while (_end - _start < count)
        {
            var received = _socket!.Receive(_buffer.AsSpan(_end));
            if (received == 0)
            {
                throw new IOException("the plugin closed the connection in the middle of a response");
            }

            _end += received;
        }
    }

    /// <summary>Moves the unparsed bytes to the front, into a larger buffer if <paramref name="count"/> bytes do not fit.</summary>
    private void MakeRoom(int count)
    {
        if (_buffer.Length - _start >= count)
        {
            return;
        }

        var target = _buffer.Length >= count ? _buffer : new byte[Math.Max(count, _buffer.Length * 2)];
        _buffer.AsSpan(_start, _end - _start).CopyTo(target);
        _end -= _start;
        _start = 0;
        _buffer = target;
    }

    private void SetBody(byte[] array, int offset, int length)
    {
        _bodyArray = array;
        _bodyOffset = offset;
        _bodyLength = length;
    }
}
