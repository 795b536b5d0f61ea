#!/usr/bin/env bash
# Builds csvol/BACKEND and enables it in the Docker daemon (what `make install` runs); data lives in /var/lib/csvol/BACKEND.
# Run again, it upgrades in place: the volumes, their data and the settings changed with `docker plugin set` stay.
#   DOCKER_HOST        the daemon to install into (default: /var/run/docker.sock, started if none answers)
#   CSVOL_PLUGIN_NAME  plugin name (default csvol/BACKEND)
#   CSVOL_STATE_ROOT   where a first install keeps its state: CSVOL_STATE_ROOT/BACKEND (default /var/lib/csvol)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

backend="${1:-local}"
check_backend "$backend"
need_root "$@"
export CSVOL_PLUGIN_NAME="${CSVOL_PLUGIN_NAME:-csvol/$backend}"
plugin=$CSVOL_PLUGIN_NAME
# Docker's client for a managed plugin gives up on a call after 30 s unless told otherwise.
enable_timeout="${CSVOL_ENABLE_TIMEOUT:-120}"

"$CSVOL_REPO_ROOT/scripts/deps.sh"
"$CSVOL_REPO_ROOT/scripts/host-dockerd.sh"
[[ -n ${DOCKER_HOST:-} ]] || export DOCKER_HOST=unix:///var/run/docker.sock

installed=0
docker plugin inspect "$plugin" >/dev/null 2>&1 && installed=1
# Refuse before building anything; checked again just before the plugin goes away.
((installed == 0)) || refuse_while_mounted "$plugin" "make install"

# The state directory: an installed plugin's (it may have been moved with `docker plugin set`), else the default.
state_dir="${CSVOL_STATE_ROOT:-/var/lib/csvol}/$backend"
carried=()
if ((installed)); then
  [[ -z ${CSVOL_STATE_ROOT:-} || $(plugin_state_source "$plugin") == "$state_dir" ]] ||
    say "CSVOL_STATE_ROOT applies to a first install; $plugin keeps its state directory"
  state_dir="$(plugin_state_source "$plugin")"
  [[ -n $state_dir ]] || die "$plugin has no state mount; remove it (make uninstall) and install again"
  mapfile -t carried < <(changed_plugin_env "$plugin")
fi
ensure_private_dir "$state_dir"

# The slow part (Native AOT publish, base image) while the installed plugin still serves its volumes.
"$CSVOL_REPO_ROOT/scripts/publish.sh" "$backend"
[[ -n ${BASE_IMAGE:-} ]] || "$CSVOL_REPO_ROOT/scripts/base-image.sh"

if ((installed)); then
  refuse_while_mounted "$plugin" "make install" quiet
  if [[ $(docker plugin inspect -f '{{.Enabled}}' "$plugin") == true ]]; then
    say "disabling $plugin to replace it (volumes and data stay in $state_dir)"
    # Forced because dockerd counts every existing volume as a use of the plugin, not only mounted ones; no
    # running container has one mounted (checked above), and stopped ones mount again when they start.
    docker plugin disable -f "$plugin" >/dev/null
    # Should the build fail before it removes the old plugin, that one comes back.
    trap 'docker plugin inspect -f "{{.Enabled}}" "$plugin" 2>/dev/null | grep -q false && docker plugin enable --timeout "$enable_timeout" "$plugin" >/dev/null && say "re-enabled the previous $plugin"' EXIT
  fi
fi

"$CSVOL_REPO_ROOT/scripts/build-plugin.sh" "$backend"
trap - EXIT

# A new plugin starts from config.json's defaults: give it back the state directory and changed settings.
settings=()
[[ $(plugin_state_source "$plugin") == "$state_dir" ]] || settings+=("state.source=$state_dir")
for setting in "${carried[@]}"; do
  if plugin_has_env "$plugin" "${setting%%=*}"; then
    settings+=("$setting")
  else
    say "not carrying over $setting: this version of $plugin has no such setting"
  fi
done
if ((${#settings[@]} > 0)); then
  say "setting ${settings[*]}"
  docker plugin set "$plugin" "${settings[@]}"
fi

docker plugin enable --timeout "$enable_timeout" "$plugin" >/dev/null
if ((installed)); then
  say "$plugin upgraded; its volumes and data in $state_dir are as before"
else
  say "$plugin enabled (state in $state_dir); try: docker volume create -d $plugin myvol && docker run --rm -v myvol:/data <image> ls /data"
fi
