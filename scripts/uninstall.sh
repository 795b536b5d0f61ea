#!/usr/bin/env bash
# Disables and removes csvol/BACKEND from the Docker daemon (what `make uninstall` runs); volume data in /var/lib/csvol/BACKEND is kept.
#   DOCKER_HOST        the daemon (default /var/run/docker.sock)
#   CSVOL_PLUGIN_NAME  plugin name (default csvol/BACKEND)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

backend="${1:-local}"
check_backend "$backend"
need_root "$@"
need_cmd docker docker.io
need_cmd jq jq
plugin="${CSVOL_PLUGIN_NAME:-csvol/$backend}"
[[ -n ${DOCKER_HOST:-} ]] || export DOCKER_HOST=unix:///var/run/docker.sock
docker_answers || die "no Docker daemon answers at $DOCKER_HOST"

if ! docker plugin inspect "$plugin" >/dev/null 2>&1; then
  say "$plugin is not installed"
  exit 0
fi

refuse_while_mounted "$plugin" "make uninstall"
state_dir="$(plugin_state_source "$plugin")"
# Forced: dockerd counts every existing volume as a use of the plugin; no running container has one mounted.
docker plugin rm -f "$plugin" >/dev/null
say "removed $plugin"
reinstall="make install"
[[ $state_dir == "/var/lib/csvol/$backend" ]] || reinstall="CSVOL_STATE_ROOT=${state_dir%/*} make install"
[[ ${state_dir##*/} == "$backend" ]] ||
  reinstall="make install, then docker plugin disable $plugin, docker plugin set $plugin state.source=$state_dir, docker plugin enable $plugin"
say "kept $state_dir (volume records and data); $reinstall brings the volumes back, rm -rf it to delete them for good"
