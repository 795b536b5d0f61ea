# Shared helpers for csvol's scripts: logging, failing with a clear message, repo paths. Sourced, not run.
# shellcheck shell=bash

CSVOL_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Buildable backends and their plugin descriptions come from backends.list, the one list of them.
CSVOL_BACKENDS="$(awk '!/^#/ && $2 == "available" { print $1 }' "$CSVOL_REPO_ROOT/backends.list" | xargs)"
CSVOL_BASE_IMAGE="${CSVOL_BASE_IMAGE:-csvol-base:bookworm}"
CSVOL_PUBLISH_DIR="${CSVOL_PUBLISH_DIR:-$CSVOL_REPO_ROOT/artifacts/publish}"

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

need_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (it talks to dockerd, mounts and installs packages); try: sudo $0 $*"
}

# need_cmd COMMAND PACKAGE: fails naming the package that provides a missing command.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found; install it with scripts/deps.sh (apt-get install $2)"
}

check_backend() {
  local b
  for b in $CSVOL_BACKENDS; do [[ $1 == "$b" ]] && return 0; done
  if awk -v b="$1" '!/^#/ && $1 == b { found = 1 } END { exit !found }' "$CSVOL_REPO_ROOT/backends.list"; then
    die "backend '$1' is planned but not built yet; available: $CSVOL_BACKENDS (see backends.list)"
  fi
  die "unknown backend '$1'; choose one of: $CSVOL_BACKENDS"
}

# docker_answers: true when the daemon named by DOCKER_HOST (or the default) responds within 10 s.
docker_answers() {
  timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# await_dockerd PID TIMEOUT: returns 0 once the daemon at DOCKER_HOST answers, 1 if PID exits first, 2 after TIMEOUT seconds.
await_dockerd() {
  local pid=$1 deadline=$((SECONDS + $2))
  until docker_answers; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 2
    sleep 0.5
  done
}

# private_dockerd_with_plugin: starts the private dockerd unless it already runs (then CSVOL_STARTED_DOCKERD=1, so the
# caller knows to stop it), points DOCKER_HOST at it, and builds csvol/local there (created, not enabled).
# shellcheck disable=SC2034 # CSVOL_STARTED_DOCKERD is read by the caller's exit trap
private_dockerd_with_plugin() {
  CSVOL_STARTED_DOCKERD=0
  "$CSVOL_REPO_ROOT/scripts/dockerd.sh" status >/dev/null || CSVOL_STARTED_DOCKERD=1
  "$CSVOL_REPO_ROOT/scripts/dockerd.sh" start
  eval "$("$CSVOL_REPO_ROOT/scripts/dockerd.sh" env)"
  "$CSVOL_REPO_ROOT/scripts/base-image.sh"
  "$CSVOL_REPO_ROOT/scripts/build-plugin.sh" local
}

# plugin_users PLUGIN running|stopped: one line "NAME (ID) has volume VOLUME" per container in that state with a volume
# of managed plugin PLUGIN among its mounts. dockerd counts every volume of a plugin as a use of it, mounted or not,
# so `docker plugin disable` cannot tell whether anything would lose a mount; the containers can.
plugin_users() {
  local driver=$1 state=$2 ids json
  [[ $driver == *:* ]] || driver="$driver:latest"
  ids="$(docker ps -aq --no-trunc)"
  [[ -n $ids ]] || return 0
  # A container removed meanwhile makes inspect fail for it alone; the others are still printed.
  # shellcheck disable=SC2086 # one argument per id
  json="$(docker inspect $ids 2>/dev/null || true)"
  jq -r --arg driver "$driver" --arg state "$state" '
    .[] | . as $c
    | select((if $c.State.Running or $c.State.Restarting then "running" else "stopped" end) == $state)
    | .Mounts[]?
    | select(.Type == "volume" and ((.Driver // "") | if contains(":") then . else . + ":latest" end) == $driver)
    | "\($c.Name | ltrimstr("/")) (\($c.Id[:12])) has volume \(.Name)"' <<<"${json:-[]}"
}

# refuse_while_mounted PLUGIN WHAT [quiet]: dies, naming them, while running containers have volumes of PLUGIN mounted
# (WHAT would pull the mounts out from under them); lists stopped ones that use its volumes unless quiet.
refuse_while_mounted() {
  local plugin=$1 what=$2 quiet=${3:-} running stopped
  running="$(plugin_users "$plugin" running)"
  if [[ -n $running ]]; then
    die "running containers have $plugin volumes mounted:"$'\n'"  ${running//$'\n'/$'\n'  }"$'\n'"$what would pull those mounts out from under them; stop the containers (docker stop NAME), then run $what again"
  fi
  stopped="$(plugin_users "$plugin" stopped)"
  if [[ -n $stopped && -z $quiet ]]; then
    say "stopped containers use $plugin volumes (they mount them again when they start, while $plugin is enabled):"
    printf '  %s\n' "${stopped//$'\n'/$'\n'  }" >&2
  fi
  return 0
}

# plugin_state_source PLUGIN: the host directory mounted into PLUGIN as its state.
plugin_state_source() {
  docker plugin inspect -f '{{range .Settings.Mounts}}{{if eq .Name "state"}}{{.Source}}{{end}}{{end}}' "$1"
}

# changed_plugin_env PLUGIN: "NAME=value" for each environment setting of PLUGIN that differs from its config.json.
changed_plugin_env() {
  docker plugin inspect "$1" | jq -r '.[0]
    | (.Config.Env | map({key: .Name, value: (.Value // "")}) | from_entries) as $defaults
    | .Settings.Env[] | capture("^(?<name>[^=]+)=(?<value>.*)$"; "s")
    | select($defaults[.name] != .value) | "\(.name)=\(.value)"'
}

# plugin_has_env PLUGIN NAME: true when PLUGIN's config.json declares environment setting NAME.
plugin_has_env() {
  docker plugin inspect "$1" | jq -e --arg name "$2" '.[0].Config.Env | any(.Name == $name)' >/dev/null
}

# ensure_private_dir DIR: creates DIR with mode 0700, or tightens an existing DIR that group or others may read or
# write to 0700 (0701 is left as it is). Containers can write set-user-ID programs into volumes; host users must
# not reach them (CVE-2021-41091). Docker keeps its own volumes under a 0700 directory too. The volume roots
# inside (data/NAME) are left alone: their mode is the volume's owner's choice.
ensure_private_dir() {
  local dir=$1 mode
  if [[ ! -e $dir ]]; then
    install -d -m 0700 "$dir"
    say "created $dir (mode 0700)"
    return 0
  fi
  [[ -d $dir ]] || die "$dir exists and is not a directory"
  mode="$(stat -L -c %a "$dir")"
  if (((8#$mode & 8#7076) != 0)); then
    chmod 0700 "$dir"
    say "tightened $dir from mode $mode to 0700: host users must not reach what containers write into volumes"
  fi
}

# backend_description NAME: the plugin description backends.list gives NAME.
backend_description() {
  awk -v b="$1" '!/^#/ && $1 == b { $1 = ""; $2 = ""; sub(/^ +/, ""); print }' "$CSVOL_REPO_ROOT/backends.list"
}
