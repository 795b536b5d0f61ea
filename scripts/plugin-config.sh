#!/usr/bin/env bash
# Prints the managed plugin config.json for one backend (local|nfs|ebs|azuredisk), derived from the repo's config.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 1 ]] || die "usage: $0 BACKEND   (one of: $CSVOL_BACKENDS)"
backend=$1
check_backend "$backend"
need_cmd jq jq

# Least privilege: local needs only CAP_SYS_ADMIN (mount); nfs adds the host network (NFS servers);
# ebs and azuredisk add the host network (cloud API, instance metadata) and the host's block devices.
jq --arg b "$backend" --arg description "csvol/$backend: $(backend_description "$backend")" --arg backends "$CSVOL_BACKENDS" '
  def setting($name; $description):
    {name: $name, description: $description, settable: ["value"], value: null};
  .description = $description
  | (.env[] | select(.name == "CSVOL_BACKEND") | .description) = "storage backend: one of " + $backends
  | (.env[] | select(.name == "CSVOL_BACKEND") | .value) = $b
  | (.mounts[] | select(.name == "state") | .source) = "/var/lib/csvol/" + $b
  | if $b == "local" then .
    else .network.type = "host" end
  | if $b == "ebs" or $b == "azuredisk" then
      .linux.allowAllDevices = true
      | .mounts += [{
          name: "dev",
          description: "host devices, so disks attached by the cloud appear inside the plugin",
          source: "/dev", destination: "/dev", type: "bind", options: ["rbind"]
        }]
    else . end
  | if $b == "ebs" then
      .env += [
        setting("AWS_REGION"; "AWS region of the volumes (default: from instance metadata)"),
        setting("AWS_ACCESS_KEY_ID"; "access key; leave empty to use the instance profile"),
        setting("AWS_SECRET_ACCESS_KEY"; "secret key for AWS_ACCESS_KEY_ID"),
        setting("AWS_SESSION_TOKEN"; "session token for temporary credentials"),
        setting("AWS_ENDPOINT_URL"; "EC2 API endpoint override (testing, private endpoints)"),
        setting("CSVOL_CLUSTER"; "tag value that keeps this cluster'"'"'s volumes apart from others in the account (default: default)"),
        setting("CSVOL_EXTRA_TAGS"; "Key=Value,Key2=Value2 added to every volume this plugin creates (cost allocation)"),
        setting("CSVOL_EBS_IMDS_URL"; "instance metadata base URL (default http://169.254.169.254)"),
        setting("CSVOL_EBS_ATTACH_TIMEOUT"; "seconds an attach or detach may take (default 90); a stuck attach is then undone"),
        setting("CSVOL_EBS_ENDPOINT_URL"; "EC2 API endpoint for this plugin only (default: AWS_ENDPOINT_URL, else the region'"'"'s)"),
        setting("CSVOL_EBS_DEVICE_ROOT"; "where attached disks appear: by-id links and device names (default /dev; must be inside the dev mount)"),
        setting("CSVOL_EBS_SYSFS_ROOT"; "where a disk'"'"'s serial is read: <root>/block/<dev>/device/serial (default /sys)"),
        setting("AWS_EC2_METADATA_DISABLED"; "true stops the AWS SDK from asking instance metadata itself (csvol asks CSVOL_EBS_IMDS_URL)")
      ]
    elif $b == "nfs" then
      .env += [
        setting("CSVOL_NFS_SERVER"; "default NFS server of volumes that name none (host name, resolved at each mount, or address); its share is the one every host lists volumes from"),
        setting("CSVOL_NFS_SHARE"; "default exported path, e.g. /exports/team"),
        setting("CSVOL_NFS_OPTIONS"; "mount options every volume gets, from csvol'"'"'s allowlist (e.g. vers=4.1,noatime); hard unless soft is given"),
        setting("CSVOL_NFS_TIMEOUT"; "seconds one step that waits on the NFS server may take before the call fails naming it (default 8)")
      ]
    elif $b == "azuredisk" then
      .env += [
        setting("AZURE_SUBSCRIPTION_ID"; "subscription holding the disks (default: from instance metadata)"),
        setting("AZURE_RESOURCE_GROUP"; "resource group for new disks (default: the VM'"'"'s)"),
        setting("AZURE_TENANT_ID"; "tenant of the service principal; leave the AZURE_CLIENT_* empty to use managed identity"),
        setting("AZURE_CLIENT_ID"; "service principal or user-assigned identity client ID"),
        setting("AZURE_CLIENT_SECRET"; "service principal secret"),
        setting("CSVOL_CLUSTER"; "tag value that keeps this cluster'"'"'s volumes apart from others in the resource group (default: default)"),
        setting("CSVOL_EXTRA_TAGS"; "Key=Value,Key2=Value2 added to every disk this plugin creates (cost allocation)"),
        setting("CSVOL_AZURE_ATTACH_TIMEOUT"; "seconds an attach or detach (a VM update) may take (default 180)"),
        setting("CSVOL_AZURE_IMDS_URL"; "instance metadata base URL (default http://169.254.169.254)"),
        setting("CSVOL_AZURE_ARM_URL"; "Azure Resource Manager endpoint (default https://management.azure.com)"),
        setting("CSVOL_AZURE_ARM_CA_FILE"; "PEM file of the only CA trusted for CSVOL_AZURE_ARM_URL (private endpoints, tests)"),
        setting("CSVOL_AZURE_DEVICE_ROOT"; "where attached disks appear: disk/azure/scsi1/lun<N> links and kernel names (default /dev)"),
        setting("CSVOL_AZURE_SYSFS_ROOT"; "where SCSI devices are read: <root>/bus/scsi/devices (default /sys)"),
        setting("AZURE_POD_IDENTITY_AUTHORITY_HOST"; "Azure.Identity: the managed identity token endpoint'"'"'s host (tests; default IMDS)")
      ]
    else . end
' "$CSVOL_REPO_ROOT/config.json"
