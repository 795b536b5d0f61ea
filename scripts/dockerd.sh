#!/usr/bin/env bash
# Starts, stops or reports on the PRIVATE dockerd the tests use (socket /run/csvol-test/docker.sock); never touches the host's daemon.
# It runs in a network namespace of its own (only lo, no route out), so nothing it does to links, routes or
# iptables reaches the host: started in the host's namespace with --bridge=none, dockerd deletes the host's
# docker0 at start. The docker CLI still reaches it through the socket, a file in the host's mount namespace.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# CSVOL_TEST_DOCKERD_NAME=NAME (letters, digits, -) runs another private daemon beside the default one, with a socket,
# data root, exec root, log and containerd namespaces of its own (the EBS end-to-end tests run two, one per "host").
NAME="${CSVOL_TEST_DOCKERD_NAME:-}"
if [[ -z $NAME ]]; then
  RUN_DIR=/run/csvol-test
  DATA_ROOT=/var/lib/csvol-test/docker
  LOG_FILE="${CSVOL_TEST_DOCKERD_LOG:-/var/log/csvol-test/dockerd.log}"
  CONTAINERD_NAMESPACE=csvoltest
else
  [[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,15}$ ]] || die "CSVOL_TEST_DOCKERD_NAME must be 1-16 lowercase letters, digits or '-', not '$NAME'"
  RUN_DIR="/run/csvol-test/$NAME"
  # Not /var/lib/csvol-test/docker-NAME: with the default daemon running (its data root /var/lib/csvol-test/docker is a
  # mount, and a string prefix of docker-NAME), enabling a plugin there failed in runc's pivot_root ("invalid
  # argument"), reproduced and gone with this path. Most likely runc took that mount for the rootfs's parent.
  DATA_ROOT="/var/lib/csvol-test/hosts/$NAME/docker"
  LOG_FILE="${CSVOL_TEST_DOCKERD_LOG:-/var/log/csvol-test/dockerd-$NAME.log}"
  CONTAINERD_NAMESPACE="csvoltest-$NAME"
fi
EXEC_ROOT="$RUN_DIR/docker-exec"
SOCKET="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
# A daemon with a long history can need a minute to start: one restart seen here removed 468 stale network sandboxes
# in 65 s (left by earlier benchmark and test runs), which a 30 s limit turned into a failed test.
START_TIMEOUT="${CSVOL_TEST_DOCKERD_START_TIMEOUT:-180}"
STOP_TIMEOUT="${CSVOL_TEST_DOCKERD_STOP_TIMEOUT:-40}"
export DOCKER_HOST="unix://$SOCKET"

usage() { die "usage: [CSVOL_TEST_DOCKERD_NAME=NAME] $0 {start|stop|restart|status|env}"; }

# Our pid: the pidfile's process, and only if it is a dockerd serving our socket (pids get reused). dockerd writes
# the pidfile itself, so it holds dockerd's pid, not that of the unshare around it.
our_pid() {
  local pid
  [[ -s $PIDFILE ]] || return 1
  pid="$(<"$PIDFILE")"
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "dockerd.*unix://$SOCKET" || return 1
  echo "$pid"
}

# in_host_netns PID: true when PID shares this shell's network namespace (a daemon an older dockerd.sh started).
in_host_netns() {
  [[ $(readlink "/proc/$1/ns/net") == "$(readlink /proc/self/ns/net)" ]]
}

start() {
  need_root "$@"
  need_cmd dockerd docker.io
  need_cmd docker docker.io
  need_cmd unshare util-linux
  need_cmd ip iproute2
  local pid
  if pid="$(our_pid)" && in_host_netns "$pid"; then
    say "private dockerd (pid $pid) runs in the host's network namespace (an older dockerd.sh started it); restarting it in its own"
    stop
  fi
  if pid="$(our_pid)"; then
    if await_dockerd "$pid" "$START_TIMEOUT"; then
      say "private dockerd already running (pid $pid, DOCKER_HOST=$DOCKER_HOST)"
      return 0
    fi
    die "private dockerd (pid $pid) is running but does not answer; see $LOG_FILE or run: $0 restart"
  fi
  mkdir -p "$RUN_DIR" "$DATA_ROOT" "$EXEC_ROOT" "$(dirname "$LOG_FILE")"
  rm -f "$PIDFILE"
  say "starting private dockerd (log $LOG_FILE)"
  # setsid + no inherited stdio: the daemon outlives the caller (a test run) and never holds its pipes open.
  # unshare --net --fork: a new network namespace that ends with dockerd; lo is brought up in it because builds
  # run with --network host (i.e. this namespace) and talk to themselves over loopback. Nothing in the build
  # needs more: the base image comes with its packages from debootstrap, run on the host (base-image.sh).
  setsid unshare --net --fork sh -c 'ip link set lo up && exec "$@"' sh \
    dockerd \
    --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" \
    -H "unix://$SOCKET" \
    --pidfile "$PIDFILE" \
    --iptables=false \
    --bridge=none \
    --containerd-namespace "$CONTAINERD_NAMESPACE" \
    --containerd-plugins-namespace "$CONTAINERD_NAMESPACE-plugins" \
    </dev/null >>"$LOG_FILE" 2>&1 &
  # $! is unshare, which lives exactly as long as dockerd: good enough to notice a failed start.
  local launched=$! waited=0
  await_dockerd "$launched" "$START_TIMEOUT" || waited=$?
  case $waited in
    0) say "private dockerd ready (pid $(our_pid || echo "?"), own network namespace, DOCKER_HOST=$DOCKER_HOST)" ;;
    1)
      tail -n 20 "$LOG_FILE" >&2
      die "private dockerd exited during start-up (log above, full log $LOG_FILE)"
      ;;
    *)
      tail -n 20 "$LOG_FILE" >&2
      die "private dockerd did not answer within ${START_TIMEOUT}s (log above); it is still running (unshare pid $launched)"
      ;;
  esac
}

stop() {
  need_root "$@"
  local pid
  if ! pid="$(our_pid)"; then
    say "private dockerd is not running"
    return 0
  fi
  say "stopping private dockerd (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "pid $pid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.3
  done
  rm -f "$PIDFILE"
  say "private dockerd stopped"
}

status() {
  local pid
  if pid="$(our_pid)" && docker_answers; then
    local netns="its own network namespace"
    in_host_netns "$pid" && netns="the HOST's network namespace (restart it: $0 restart)"
    echo "running: pid $pid in $netns, DOCKER_HOST=$DOCKER_HOST, data root $DATA_ROOT, log $LOG_FILE"
    return 0
  fi
  echo "not running (DOCKER_HOST=$DOCKER_HOST)"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status) status ;;
  env) echo "export DOCKER_HOST=$DOCKER_HOST" ;;
  *) usage ;;
esac
