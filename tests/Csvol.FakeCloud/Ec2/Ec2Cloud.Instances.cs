namespace Csvol.FakeCloud.Ec2;

internal sealed partial class Ec2Cloud
{
    private string DescribeInstances(QueryRequest request, string requestId)
    {
        var ids = request.List("InstanceId");
        lock (_gate)
        {
            var instances = ids.Count > 0 ? ids.Select(Instance).ToList() : [.. _instances.Values];
            using var xml = new Ec2Xml("DescribeInstances", requestId);
            xml.Start("reservationSet");
            foreach (var instance in instances)
            {
                xml.Start("item");
                xml.Element("reservationId", "r-" + instance.Id[2..]);
                xml.Element("ownerId", FakeEc2Server.AccountId);
                xml.Start("instancesSet");
                xml.Start("item");
                xml.Element("instanceId", instance.Id);
                xml.Element("imageId", "ami-0fake0000000000000");
                xml.Start("instanceState");
                xml.Element("code", (int)instance.State);
                xml.Element("name", instance.State.WireName());
                xml.End();
                xml.Element("instanceType", "t3.medium");
                xml.Start("placement");
                xml.Element("availabilityZone", instance.AvailabilityZone);
                xml.End();
                xml.Start("blockDeviceMapping");
                foreach (var volume in _volumes.Values.Where(v => v.Attachment?.InstanceId == instance.Id))
                {
                    xml.Start("item");
                    xml.Element("deviceName", volume.Attachment!.Device);
                    xml.Start("ebs");
                    xml.Element("volumeId", volume.Id);
                    xml.Element("status", volume.Attachment.State);
                    xml.Element("attachTime", volume.Attachment.AttachTime);
                    xml.Element("deleteOnTermination", value: false);
                    xml.End();
                    xml.End();
                }

                xml.End();
                xml.End();
                xml.End();
                xml.End();
            }

            xml.End();
            return xml.Finish();
        }
    }
}
