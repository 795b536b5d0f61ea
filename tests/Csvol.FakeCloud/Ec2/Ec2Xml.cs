using System.Globalization;
using System.Text;
using System.Xml;

namespace Csvol.FakeCloud.Ec2;

/// <summary>Writes EC2's XML answers: <c>&lt;{Action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"&gt;</c>.</summary>
internal sealed class Ec2Xml : IDisposable
{
    private const string Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/";
    private readonly StringBuilder _text = new();
    private readonly XmlWriter _writer;

    public Ec2Xml(string action, string requestId)
    {
        _writer = XmlWriter.Create(_text, new XmlWriterSettings { OmitXmlDeclaration = true });
        _writer.WriteStartElement(action + "Response", Namespace);
        Element("requestId", requestId);
    }

    public void Element(string name, string? value)
    {
        if (value is not null)
        {
            _writer.WriteElementString(name, Namespace, value);
        }
    }

    public void Element(string name, int? value) => Element(name, value?.ToString(CultureInfo.InvariantCulture));

    public void Element(string name, bool value) => Element(name, value ? "true" : "false");

    public void Element(string name, DateTimeOffset value) =>
        Element(name, value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));

    public void Start(string name) => _writer.WriteStartElement(name, Namespace);

    public void End() => _writer.WriteEndElement();

    public void TagSet(IReadOnlyDictionary<string, string> tags)
    {
        Start("tagSet");
        foreach (var (key, value) in tags)
        {
            Start("item");
            Element("key", key);
            Element("value", value);
            End();
        }

        End();
    }

    public string Finish()
    {
        _writer.WriteEndElement();
        _writer.Flush();
        return _text.ToString();
    }

    public void Dispose() => _writer.Dispose();

    public static string Error(Ec2Error error, string requestId)
    {
        var text = new StringBuilder();
        using (var writer = XmlWriter.Create(text, new XmlWriterSettings { OmitXmlDeclaration = true }))
        {
            writer.WriteStartElement("Response");
            writer.WriteStartElement("Errors");
            writer.WriteStartElement("Error");
            writer.WriteElementString("Code", error.Code);
            writer.WriteElementString("Message", error.Message);
            writer.WriteEndElement();
            writer.WriteEndElement();
            writer.WriteElementString("RequestID", requestId);
            writer.WriteEndElement();
        }

        return text.ToString();
    }
}
