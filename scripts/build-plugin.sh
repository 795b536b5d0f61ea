#!/usr/bin/env bash
# Builds managed plugin csvol/BACKEND: publish, image, rootfs + config.json in plugin/BACKEND/, docker plugin create.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ $# -eq 1 ]] || die "usage: $0 BACKEND   (one of: $CSVOL_BACKENDS)"
backend=$1
check_backend "$backend"
need_root "$@"
need_cmd docker docker.io
need_cmd jq jq
docker_answers || die "no Docker daemon answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}"

plugin="${CSVOL_PLUGIN_NAME:-csvol/$backend}"
plugin_dir="$CSVOL_REPO_ROOT/plugin/$backend"
image="csvol-rootfs:latest"

# csvol/BACKEND ships a binary with only its own backend compiled in (artifacts/publish/BACKEND/csvol).
"$CSVOL_REPO_ROOT/scripts/publish.sh" "$backend"

# An explicit BASE_IMAGE (e.g. debian:bookworm-slim with registry access) skips the local base image.
base="${BASE_IMAGE:-}"
if [[ -z $base ]]; then
  "$CSVOL_REPO_ROOT/scripts/base-image.sh"
  base="$CSVOL_BASE_IMAGE"
fi

say "building $image from $base"
previous="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
# The build context is the backend's publish directory: one file, no source tree sent to the daemon.
DOCKER_BUILDKIT=0 docker build --network host -q \
  --build-arg "BASE_IMAGE=$base" \
  -f "$CSVOL_REPO_ROOT/Dockerfile" -t "$image" "$CSVOL_PUBLISH_DIR/$backend" >/dev/null
# Each build leaves the previous image untagged (~300 MB); drop it unless something still uses it.
if [[ -n $previous && $previous != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi

say "exporting the root filesystem to $plugin_dir/rootfs"
rm -rf "$plugin_dir"
mkdir -p "$plugin_dir/rootfs"
container="$(docker create "$image")"
trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
docker export "$container" | tar -x -C "$plugin_dir/rootfs"
"$CSVOL_REPO_ROOT/scripts/plugin-config.sh" "$backend" >"$plugin_dir/config.json"

if docker plugin inspect "$plugin" >/dev/null 2>&1; then
  say "removing the existing $plugin"
  docker plugin rm -f "$plugin" >/dev/null
fi
docker plugin create "$plugin" "$plugin_dir" >/dev/null
say "created $plugin (disabled); next: install -d -m 0700 /var/lib/csvol/$backend && docker plugin enable $plugin (or: make install)"
