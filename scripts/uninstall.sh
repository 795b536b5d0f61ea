#!/usr/bin/env bash
# Disables and removes csvol/BACKEND from the Docker daemon (what `make uninstall` runs); volume data in /var/lib/csvol/BACKEND is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

backend="${1:-local}"
check_backend "$backend"
need_root "$@"
need_cmd docker docker.io
plugin="csvol/$backend"
[[ -n ${DOCKER_HOST:-} ]] || export DOCKER_HOST=unix:///var/run/docker.sock
docker_answers || die "no Docker daemon answers at $DOCKER_HOST"

if ! docker plugin inspect "$plugin" >/dev/null 2>&1; then
  say "$plugin is not installed"
else
  if docker plugin inspect -f '{{.Enabled}}' "$plugin" | grep -q true; then
    docker plugin disable "$plugin" >/dev/null ||
      die "$plugin is in use by containers; stop them first (docker ps --filter volume=...), then make uninstall"
  fi
  docker plugin rm "$plugin" >/dev/null
  say "removed $plugin"
fi
say "kept /var/lib/csvol/$backend (volume records and data); reinstalling brings the volumes back, rm -rf it to delete them for good"
