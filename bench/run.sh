#!/usr/bin/env bash
# make bench: builds csvol as it ships (Native AOT, managed plugin csvol/local), measures it beside its
# yardsticks in one run, prints one table and writes bench/results/<UTC time>.json (+ latest.json, latest.md).
# Yardsticks: the Go stub in ../shared/tools/plugbench (when that tree exists) and dockerd's built-in local driver.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_root "$@"
cd "$CSVOL_REPO_ROOT"
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
t0=$SECONDS
export BENCH_WORK=/run/csvol-bench
rows="$BENCH_WORK/rows.jsonl"
plugbench_src="${CSVOL_PLUGBENCH_SRC:-$CSVOL_REPO_ROOT/../shared/tools/plugbench}"
bench_state=/var/lib/csvol-bench/local
plugin=csvol/local
CSVOL_STARTED_DOCKERD=0

finish() {
  local rc=$?
  if [[ -n ${DOCKER_HOST:-} ]] && docker plugin inspect "$plugin" >/dev/null 2>&1; then
    docker plugin disable "$plugin" >/dev/null 2>&1 || true
  fi
  if ((CSVOL_STARTED_DOCKERD)); then
    scripts/dockerd.sh stop || say "could not stop the private dockerd this run started"
  fi
  rm -rf "$bench_state"
  ((rc == 0)) || say "make bench failed (exit $rc); partial rows are in $rows"
  exit "$rc"
}
trap finish EXIT

say "installing what the benchmark needs"
scripts/deps.sh
missing=()
command -v fio >/dev/null || missing+=(fio)
[[ -f $plugbench_src/main.go ]] && ! command -v go >/dev/null && missing+=(golang-go)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rm -rf "$BENCH_WORK"
mkdir -p "$BENCH_WORK" "$CSVOL_REPO_ROOT/bench/results"
: >"$rows"

export PLUGBENCH=""
if [[ -f $plugbench_src/main.go ]]; then
  say "building the yardstick plugbench from $plugbench_src"
  (cd "$plugbench_src" && GOFLAGS=-mod=mod go build -o "$BENCH_WORK/plugbench" .)
  PLUGBENCH="$BENCH_WORK/plugbench"
else
  say "no $plugbench_src: the Go yardstick columns will read 'n/a'"
fi

say "publishing csvol (Native AOT) and building Csvol.Bench"
# The binary csvol/local ships: the local backend alone compiled in (scripts/publish.sh local).
scripts/publish.sh local
export CSVOL_BIN="$CSVOL_PUBLISH_DIR/local/csvol"
dotnet build bench/Csvol.Bench -c Release -nologo -v quiet
export BENCH_TOOL="$CSVOL_REPO_ROOT/bench/Csvol.Bench/bin/Release/net10.0/Csvol.Bench"

bench/protocol.sh "$rows"

say "starting dockerd and installing $plugin for the dockerd and data-path sections"
if scripts/dockerd.sh status >/dev/null; then
  # A daemon that served earlier runs keeps every volume driver it has used, and lists each of them on every
  # docker volume ls: a test plugin that is gone cost 15 s of retries per ls in one run here.
  say "restarting the private dockerd so that nothing left by earlier runs skews the figures"
  scripts/dockerd.sh restart
fi
private_dockerd_with_plugin
rm -rf "$bench_state"
mkdir -p "$bench_state"
docker plugin set "$plugin" "state.source=$bench_state"
docker plugin enable --timeout 120 "$plugin" >/dev/null

bench/docker.sh "$rows"
bench/datapath.sh "$rows"

# Section 5 needs no dockerd: the ebs and azuredisk binaries against the in-process cloud fakes (bench/cloudmount.sh, also runnable alone).
bench/cloudmount.sh "$rows"

bench/report.sh "$rows" "$stamp" "$started_at" "$((SECONDS - t0))"
