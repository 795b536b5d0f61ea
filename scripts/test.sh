#!/usr/bin/env bash
# Runs every test (what `make test` and CI run): private dockerd, base image, managed csvol/local, dotnet test, one totals line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need_root "$@"
cd "$CSVOL_REPO_ROOT"
results_dir="$CSVOL_REPO_ROOT/artifacts/test-results"
CSVOL_STARTED_DOCKERD=0
totals_printed=0
network_before=""

# The host's links and routes: a test run must leave them as it found them (a dockerd started in the host's
# network namespace with --bridge=none once deleted the host's docker0; scripts/dockerd.sh now isolates it).
host_network() {
  echo "# ip -br link"
  ip -br link
  echo "# ip route"
  ip route
  echo "# ip -6 route"
  ip -6 route
}

# check_host_network: fails, showing the difference, when the host's links or routes differ from the run's start.
check_host_network() {
  [[ -n $network_before ]] || return 0
  local changes
  if changes="$(diff <(printf '%s\n' "$network_before") <(host_network))"; then
    say "host links and routes unchanged"
    return 0
  fi
  say "the host's links or routes changed during the run (< before, > after):"
  printf '%s\n' "$changes" >&2
  return 1
}

finish() {
  local rc=$?
  # Even a run that failed before any test ran ends with a totals line.
  ((totals_printed)) || print_totals || true
  if ((CSVOL_STARTED_DOCKERD)); then
    scripts/dockerd.sh stop || say "could not stop the private dockerd this run started"
  fi
  # The two-host tests (EBS, Azure disk) stop their daemons themselves; this catches a test process that was killed first.
  local name
  for name in ebs-a ebs-b az-a az-b; do
    CSVOL_TEST_DOCKERD_NAME=$name scripts/dockerd.sh stop >/dev/null 2>&1 || say "could not stop private dockerd $name"
  done
  check_host_network || rc=1
  exit "$rc"
}
trap finish EXIT

# Sums one attribute over every TRX <Counters> element.
counter() {
  local name=$1 file total=0 value
  for file in "$results_dir"/*.trx; do
    [[ -e $file ]] || continue
    value="$(grep -o '<Counters [^>]*>' "$file" | grep -o " $name=\"[0-9]*\"" | grep -o '[0-9]\+' || true)"
    total=$((total + ${value:-0}))
  done
  echo "$total"
}

print_totals() {
  passed="$(counter passed)"
  failed=$(($(counter failed) + $(counter error) + $(counter timeout) + $(counter aborted)))
  skipped="$(counter notExecuted)"
  total="$(counter total)"
  local line="$passed passed, $failed failed"
  ((skipped == 0)) || line="$line, $skipped skipped"
  echo "$line"
  totals_printed=1
}

# Old results would be counted with the new ones.
rm -rf "$results_dir"
mkdir -p "$results_dir"

scripts/deps.sh
# Every plugin's own binary, once, before anything runs in parallel: the process tests run them (csvol/local's, and
# csvol/azuredisk's for its AOT test), the plugins and the NFS rig's guests ship them, and two publishes of one
# binary must never race.
for backend in $CSVOL_BACKENDS; do
  scripts/publish.sh "$backend"
done
# The real-NFS rig's guests carry csvol/nfs's own published binary: built here, before the tests, rather than by the
# rig's fixture in the middle of a test run (tests/Csvol.Tests/Backends/Nfs/Rig).
scripts/nfs-rig.sh build
network_before="$(host_network)"
private_dockerd_with_plugin

set +e
dotnet test VolumeDriver.sln -c Release --logger trx --results-directory "$results_dir"
test_rc=$?
set -e

print_totals

if ((total == 0)); then
  say "no tests ran (no TRX results in $results_dir)"
  exit 1
fi
if ((failed > 0 || test_rc != 0)); then
  say "tests failed (dotnet test exit code $test_rc); TRX files are in $results_dir"
  exit 1
fi
