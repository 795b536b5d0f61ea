#!/usr/bin/env bash
# Ensures image IMAGE (default csvol-base:bookworm: Debian bookworm with filesystem and NFS tools, plus EXTRA
# packages, comma-separated, if given) exists in the daemon named by DOCKER_HOST.
#   scripts/base-image.sh                              the plugin's and the tests' base image
#   scripts/base-image.sh csvol-bench-fio:bookworm fio  the same with fio (bench/datapath.sh)
# The packages go in with debootstrap, run on the host: the private test dockerd has no network (dockerd.sh),
# so nothing built on it can run apt-get.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Packages the plugin needs at run time; with them in the base image the Dockerfile's apt step is a no-op.
PACKAGES="e2fsprogs,xfsprogs,nfs-common,util-linux,ca-certificates"
MIRROR="${CSVOL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${CSVOL_CACHE_DIR:-/var/cache/csvol}"
PULL_TIMEOUT="${CSVOL_PULL_TIMEOUT:-20}"

[[ $# -le 2 ]] || die "usage: $0 [IMAGE [EXTRA_PACKAGES]]"
image="${1:-$CSVOL_BASE_IMAGE}"
extra="${2:-}"
packages="$PACKAGES${extra:+,$extra}"

need_root "$@"
need_cmd docker docker.io
docker_answers || die "no Docker daemon answers at ${DOCKER_HOST:-the default socket}; start one (scripts/dockerd.sh start for tests)"

if docker image inspect "$image" >/dev/null 2>&1; then
  say "$image already present"
  exit 0
fi

# A pulled debian:bookworm-slim has none of the extra packages; without extras the Dockerfile adds the rest.
if [[ -z $extra ]]; then
  say "trying docker pull debian:bookworm-slim (at most ${PULL_TIMEOUT}s)"
  if timeout "$PULL_TIMEOUT" docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    docker tag debian:bookworm-slim "$image"
    say "tagged debian:bookworm-slim as $image"
    exit 0
  fi
  say "registry not reachable from the daemon"
fi

say "building $image with debootstrap (packages $packages)"
need_cmd debootstrap debootstrap
# The cache key holds the package list, so changing it builds a new tarball instead of reusing a stale one.
key="$(printf '%s %s' "$packages" "$MIRROR" | sha256sum | cut -c1-12)"
tarball="$CACHE_DIR/bookworm-minbase-$key.tar"
if [[ ! -s $tarball ]]; then
  mkdir -p "$CACHE_DIR"
  work="$(mktemp -d "$CACHE_DIR/debootstrap.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  say "debootstrap bookworm into $work (about a minute)"
  if ! debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above); check that $MIRROR is reachable or set CSVOL_DEBIAN_MIRROR"
  fi
  # Package caches only make the image bigger.
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
  tar -C "$work/root" --numeric-owner -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  say "cached $tarball"
else
  say "using cached $tarball"
fi

docker import - "$image" <"$tarball" >/dev/null
say "imported $image"
