#!/usr/bin/env bash
# Builds csvol/BACKEND and enables it in the host Docker daemon (what `make install` runs); data lives in /var/lib/csvol/BACKEND.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

backend="${1:-local}"
check_backend "$backend"
need_root "$@"
plugin="csvol/$backend"
state_dir="/var/lib/csvol/$backend"
# Docker's client for a managed plugin gives up on a call after 30 s unless told otherwise.
enable_timeout="${CSVOL_ENABLE_TIMEOUT:-120}"

"$CSVOL_REPO_ROOT/scripts/deps.sh"
"$CSVOL_REPO_ROOT/scripts/host-dockerd.sh"
[[ -n ${DOCKER_HOST:-} ]] || export DOCKER_HOST=unix:///var/run/docker.sock

if docker plugin inspect -f '{{.Enabled}}' "$plugin" 2>/dev/null | grep -q true; then
  say "$plugin is enabled; disabling it to replace it (volumes and data stay in $state_dir)"
  # Never forced: pulling mounts out from under running containers is not an install step's call to make.
  docker plugin disable "$plugin" >/dev/null ||
    die "$plugin is in use by containers; stop them (docker ps --filter volume=...) and run make install again"
fi
mkdir -p "$state_dir"
"$CSVOL_REPO_ROOT/scripts/build-plugin.sh" "$backend"
docker plugin enable --timeout "$enable_timeout" "$plugin" >/dev/null
say "$plugin enabled; try: docker volume create -d $plugin myvol && docker run --rm -v myvol:/data <image> ls /data"
