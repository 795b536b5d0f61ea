#!/usr/bin/env bash
# Builds what the real-NFS rig (tests/Csvol.Tests/Backends/Nfs/Rig) boots: a Debian cloud kernel and a busybox
# initramfs that carries the published csvol binary (csvol/nfs's own, scripts/publish.sh nfs), mount.nfs, socat and
# the libraries they load, and the kernel's NFS client modules. Each QEMU guest booted from it is one Docker host.
# Usage: scripts/nfs-rig.sh build     (skips the work when the initramfs is newer than everything it is made of)
#
# The guest packages are fetched with `apt-get download` and unpacked into artifacts/, never installed on this host:
# the host keeps its own kernel, /boot and services. What the host itself runs (qemu, nfs-ganesha, socat, cpio,
# binutils' strings) comes from scripts/deps.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ ${1:-} == build ]] || die "usage: $0 build"
for pair in qemu-system-x86_64:qemu-system-x86 ganesha.nfsd:nfs-ganesha mount.nfs:nfs-common socat:socat cpio:cpio \
  strings:binutils apt-get:apt dpkg-deb:dpkg; do
  need_cmd "${pair%%:*}" "${pair#*:}"
done

rig="$CSVOL_REPO_ROOT/artifacts/nfs-rig"
pkgs="$rig/packages"
kernel_pkg=linux-image-cloud-amd64
busybox_pkg=busybox-static
mkdir -p "$pkgs"

"$CSVOL_REPO_ROOT/scripts/publish.sh" nfs
csvol="$CSVOL_PUBLISH_DIR/nfs/csvol"

# The kernel and busybox, unpacked once per version (the meta package names the versioned kernel package). Package
# lists that are missing or older than the mirror are refreshed once (apt-get update), then the download is retried.
lists_updated=0
update_lists() {
  ((lists_updated)) && return 1
  say "refreshing the package lists (apt-get update)"
  apt-get update -qq || die "apt-get update failed; is the Debian mirror reachable?"
  lists_updated=1
}
fetch() {
  local pkg=$1 deb
  deb="$(find "$pkgs" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)"
  if [[ -z $deb ]]; then
    say "fetching $pkg (apt-get download; not installed on this host)"
    until (cd "$pkgs" && apt-get download -qq "$pkg" 2>/dev/null); do
      update_lists || die "apt-get download $pkg failed; is the Debian mirror reachable?"
    done
    deb="$(find "$pkgs" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)"
  fi
  echo "$deb"
}
kernel_image() { apt-cache depends "$kernel_pkg" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'; }
kernel_image="$(kernel_image)"
if [[ -z $kernel_image ]]; then
  update_lists || true
  kernel_image="$(kernel_image)"
fi
[[ -n $kernel_image ]] || die "apt knows no $kernel_pkg even after apt-get update; is the Debian mirror in sources.list?"
kernel_deb="$(fetch "$kernel_image")"
busybox_deb="$(fetch "$busybox_pkg")"

initrd="$rig/initrd.cpio.gz"
kernel="$rig/vmlinuz"
if [[ -s $initrd && -s $kernel && ${CSVOL_FORCE_RIG:-} != 1 ]] &&
  [[ -z $(find "$csvol" "$kernel_deb" "$busybox_deb" "${BASH_SOURCE[0]}" -newer "$initrd" -print -quit) ]]; then
  say "$initrd is up to date"
  exit 0
fi

work="$rig/work"
rm -rf "$work"
mkdir -p "$work/kernel" "$work/busybox" "$work/root"
dpkg-deb -x "$kernel_deb" "$work/kernel"
dpkg-deb -x "$busybox_deb" "$work/busybox"
cp "$(find "$work/kernel/boot" -name 'vmlinuz-*' -print -quit)" "$kernel"
modules="$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d -print -quit)"

root="$work/root"
mkdir -p "$root"/{bin,sbin,etc,lib/modules,lib64,proc,sys,dev,run,tmp,mnt,var/lib}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"

# A program and every library it loads, at the paths the host's loader finds them.
copy_with_libraries() {
  local program=$1 target=$2 library
  install -D -m 0755 "$program" "$root$target"
  for library in $(ldd "$program" | awk '/=> \// { print $3 } /^[[:space:]]*\/lib/ { print $1 }'); do
    [[ -e $root$library ]] || install -D -m 0755 "$(readlink -f "$library")" "$root$library"
  done
}
copy_with_libraries "$csvol" /usr/local/bin/csvol
copy_with_libraries "$(command -v mount.nfs)" /sbin/mount.nfs
copy_with_libraries "$(command -v socat)" /usr/bin/socat
# mount.nfs (libtirpc) reads the transports from netconfig; names resolve from files only.
cp /etc/netconfig "$root/etc/netconfig"
printf 'hosts: files\n' >"$root/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# NFS client and virtio network modules with what they depend on, in load order (read from each module's
# .modinfo, since the package ships no modules.dep).
declare -A module_path=() loaded=()
while IFS= read -r ko; do module_path[$(basename "$ko" .ko)]=$ko; done < <(find "$modules/kernel" -name '*.ko')
order=()
add_module() {
  local name=${1//-/_} dep path
  [[ -n ${loaded[$name]:-} ]] && return 0
  path=${module_path[$name]:-${module_path[${name//_/-}]:-}}
  [[ -n $path ]] || die "module $name not found in $(basename "$modules")"
  loaded[$name]=1
  for dep in $(strings -a "$path" | sed -n 's/^depends=//p' | tr ',' ' '); do add_module "$dep"; done
  order+=("$path")
}
for m in virtio_pci virtio_net nfsv4; do add_module "$m"; done
: >"$root/etc/modules.order"
for path in "${order[@]}"; do
  cp "$path" "$root/lib/modules/"
  echo "$(basename "$path")" >>"$root/etc/modules.order"
done

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# One rig guest = one Docker host: NFS client, csvol (CSVOL_BACKEND=nfs) on a Unix socket, and two loopback-forwarded
# TCP ports: RIG_PLUGIN_PORT relays to csvol's socket, RIG_SHELL_PORT runs each connection's text as a shell script.
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/usr/bin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o mode=0755 run /run
for m in $(cat /etc/modules.order); do insmod /lib/modules/$m || echo "rig: insmod $m failed"; done
ip link set lo up
ip link set eth0 up
# No default route: the guest reaches 10.0.2.2 (qemu's alias of the host's loopback) and nothing else.
ip addr add 10.0.2.15/24 dev eth0
echo "10.0.2.2 nfs-server" >/etc/hosts
echo "127.0.0.1 localhost" >>/etc/hosts
hostname "$RIG_HOST"
mkdir -p /run/csvol /var/lib/csvol /mnt/volumes
CSVOL_SOCKET=/run/csvol/csvol.sock csvol >/var/log-csvol 2>&1 &
socat TCP-LISTEN:$RIG_PLUGIN_PORT,fork,reuseaddr UNIX-CONNECT:/run/csvol/csvol.sock &
socat TCP-LISTEN:$RIG_SHELL_PORT,fork,reuseaddr EXEC:/bin/sh,stderr &
echo "rig: $RIG_HOST ready"
while true; do sleep 3600; done
EOF
chmod 0755 "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$initrd.tmp"
mv "$initrd.tmp" "$initrd"
rm -rf "$work"
say "built $initrd ($(du -h "$initrd" | cut -f1)) and $kernel"
