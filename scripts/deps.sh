#!/usr/bin/env bash
# Installs with apt-get whatever csvol's build, packaging and tests need and is missing (apt-get update only then).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# command:package pairs; a command that exists (from any source) counts as installed. The real-NFS rig
# (scripts/nfs-rig.sh) runs qemu (TCG: no KVM needed) and nfs-ganesha here, and copies mount.nfs and socat into its
# guests; the guests' kernel and busybox are fetched with apt-get download, never installed on this host. Installing
# nfs-ganesha starts no service (invoke-rc.d policy), and the rig starts ganesha itself, on 127.0.0.1 only.
REQUIRED="dockerd:docker.io docker:docker.io debootstrap:debootstrap jq:jq mkfs.ext4:e2fsprogs
mkfs.xfs:xfsprogs losetup:mount findmnt:util-linux setsid:util-linux unshare:util-linux ip:iproute2 curl:curl tar:tar timeout:coreutils make:make
clang:clang objcopy:binutils
qemu-system-x86_64:qemu-system-x86 ganesha.nfsd:nfs-ganesha mount.nfs:nfs-common socat:socat cpio:cpio strings:binutils"
# Packages with no command of their own: Native AOT links the shipped binary against zlib; ganesha's VFS backend.
LIBRARIES="zlib1g-dev nfs-ganesha-vfs"

need_root "$@"
command -v dotnet >/dev/null 2>&1 || die "the .NET SDK is missing: install it (see global.json for the version) and put dotnet on PATH"

missing=()
for pair in $REQUIRED; do
  cmd="${pair%%:*}" pkg="${pair#*:}"
  if ! command -v "$cmd" >/dev/null 2>&1 && [[ " ${missing[*]} " != *" $pkg "* ]]; then
    missing+=("$pkg")
  fi
done

for pkg in $LIBRARIES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  say "all tools present"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get; install them by hand"
say "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
say "installed: ${missing[*]}"
