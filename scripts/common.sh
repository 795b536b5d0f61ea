# Shared helpers for csvol's scripts: logging, failing with a clear message, repo paths. Sourced, not run.
# shellcheck shell=bash

CSVOL_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CSVOL_BACKENDS="local nfs ebs azuredisk"
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
