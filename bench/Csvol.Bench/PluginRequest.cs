using System.Globalization;
using System.Text;

namespace Csvol.Bench;

/// <summary>
/// The bytes of one POST as dockerd sends it (same headers as plugbench). "{{i}}" in the body becomes the
/// request index (modulo the keyspace when one is given), formatted into the caller's buffer without allocating.
/// </summary>
internal sealed class PluginRequest
{
    private const string Placeholder = "{{i}}";

    private readonly byte[] _head; // request line and headers up to the Content-Length value
    private readonly byte[][] _bodyParts; // the body split at each placeholder
    private readonly byte[]? _whole; // the complete request when the body has no placeholder
    private readonly int _keyspace;

    public PluginRequest(string endpoint, string body, int keyspace = 0)
    {
        Endpoint = endpoint;
        _keyspace = keyspace;
        _head = Encoding.UTF8.GetBytes(
            $"POST {endpoint} HTTP/1.1\r\nHost: plugin\r\nUser-Agent: csvol-bench\r\n" +
            "Accept: application/vnd.docker.plugins.v1.2+json\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\n" +
            "Content-Length: ");
        _bodyParts = [.. body.Split(Placeholder).Select(Encoding.UTF8.GetBytes)];
        MaxLength = _head.Length + 10 + 4 + _bodyParts.Sum(p => p.Length) + ((_bodyParts.Length - 1) * 11);
        if (_bodyParts.Length == 1)
        {
            _whole = new byte[MaxLength];
            _whole = _whole[..Format(0, _whole)];
        }
    }

    public string Endpoint { get; }

    /// <summary>The most bytes <see cref="For"/> writes into its buffer.</summary>
    public int MaxLength { get; }

    /// <summary>The request for index <paramref name="index"/>; <paramref name="scratch"/> needs <see cref="MaxLength"/> bytes.</summary>
    public ReadOnlySpan<byte> For(int index, byte[] scratch) => _whole ?? scratch.AsSpan(0, Format(index, scratch));

    private int Format(int index, Span<byte> destination)
    {
        var key = _keyspace > 0 ? index % _keyspace : index;
        Span<byte> keyText = stackalloc byte[11];
        _ = key.TryFormat(keyText, out var keyLength, provider: CultureInfo.InvariantCulture);
        keyText = keyText[..keyLength];

        var bodyLength = 0;
        foreach (var part in _bodyParts)
        {
            bodyLength += part.Length;
        }

        bodyLength += (_bodyParts.Length - 1) * keyLength;

        var at = Append(destination, 0, _head);
        _ = bodyLength.TryFormat(destination[at..], out var written, provider: CultureInfo.InvariantCulture);
        at = Append(destination, at + written, "\r\n\r\n"u8);
        for (var i = 0; i < _bodyParts.Length; i++)
        {
            at = Append(destination, i == 0 ? at : Append(destination, at, keyText), _bodyParts[i]);
        }

        return at;
    }

    private static int Append(Span<byte> destination, int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[at..]);
        return at + bytes.Length;
    }
}
