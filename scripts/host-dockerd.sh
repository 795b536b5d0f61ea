#!/usr/bin/env bash
# Makes sure a host Docker daemon answers (for make install/uninstall): uses DOCKER_HOST or /var/run/docker.sock, else starts dockerd and leaves it running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LOG_FILE="${CSVOL_HOST_DOCKERD_LOG:-/var/log/csvol-dockerd.log}"
PIDFILE=/var/run/docker.pid
START_TIMEOUT=30

need_root "$@"
need_cmd docker docker.io

if [[ -n ${DOCKER_HOST:-} ]]; then
  docker_answers || die "DOCKER_HOST=$DOCKER_HOST is set but no daemon answers there; start it or unset DOCKER_HOST"
  say "using the Docker daemon at DOCKER_HOST=$DOCKER_HOST"
  exit 0
fi

export DOCKER_HOST=unix:///var/run/docker.sock
if docker_answers; then
  say "using the Docker daemon at /var/run/docker.sock"
  exit 0
fi

need_cmd dockerd docker.io
if [[ -S /var/run/docker.sock ]] || { [[ -s $PIDFILE ]] && kill -0 "$(<"$PIDFILE")" 2>/dev/null; }; then
  die "a Docker daemon seems to exist (/var/run/docker.sock or $PIDFILE) but does not answer; check it (systemctl status docker) before installing"
fi

# Extra flags, e.g. CSVOL_DOCKERD_FLAGS="--iptables=false" on hosts without iptables.
say "no Docker daemon answers; starting dockerd with default paths (log $LOG_FILE) and LEAVING IT RUNNING"
# shellcheck disable=SC2086
setsid dockerd ${CSVOL_DOCKERD_FLAGS:-} </dev/null >>"$LOG_FILE" 2>&1 &
pid=$! waited=0
await_dockerd "$pid" "$START_TIMEOUT" || waited=$?
if ((waited == 1)); then
  tail -n 20 "$LOG_FILE" >&2
  die "dockerd exited during start-up (log above); set CSVOL_DOCKERD_FLAGS if it needs flags on this host"
fi
((waited == 0)) || die "dockerd (pid $pid) did not answer within ${START_TIMEOUT}s; see $LOG_FILE"
say "dockerd is running as pid $pid (stop it with: kill $pid)"
