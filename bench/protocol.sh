#!/usr/bin/env bash
# Sections 1 and 2 of make bench, plus memory per volume and allocations per call: csvol (the published
# Native AOT binary csvol/local ships, artifacts/publish/local/csvol, with the managed plugin's environment) beside
# the Go stub `plugbench serve`.
# Usage: bench/protocol.sh OUT.jsonl   (run by bench/run.sh, which sets CSVOL_BIN, BENCH_TOOL, PLUGBENCH, BENCH_WORK)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=${1:?usage: $0 OUT.jsonl}
: "${CSVOL_BIN:?}" "${BENCH_TOOL:?}" "${BENCH_WORK:?}"
plugbench=${PLUGBENCH:-}

N=30000             # measured requests per latency figure, split over ROUNDS
ROUNDS=3            # csvol and the stub alternate this many times; each figure is the median round
WARMUP=1000
PAIRS=1000          # Mount+Unmount pairs per run (each is a mount(2), an umount(2) and two durable writes)
LISTS=150           # List calls of 10,000 volumes per run
VOLUMES=10000
COLD_ROUNDS=3       # alternating rounds of cold starts...
COLD_RUNS=5         # ...of this many launches each
S1="1 protocol"
S2="2 start and memory"

work="$BENCH_WORK/protocol"
state=/var/lib/csvol-bench/protocol # on disk, as the managed plugin's state is: Create and Mount write durably
csvol_sock="$work/csvol.sock"
stub_sock="$work/stub.sock"
csvol_pid="" stub_pid=""

stop_servers() {
  local pid
  for pid in $csvol_pid $stub_pid; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  csvol_pid="" stub_pid=""
}

cleanup() {
  stop_servers
  # Mount+Unmount pairs leave nothing mounted; this only matters after a failure part-way.
  findmnt -rn -o TARGET | grep -F "$work/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work" "$state"
}
trap cleanup EXIT
cleanup
mkdir -p "$work/stub-root"

# csvol runs with the managed plugin's own environment (config.json), only its paths moved here.
plugin_env=()
while IFS= read -r kv; do plugin_env+=("$kv"); done < <(
  "$CSVOL_REPO_ROOT/scripts/plugin-config.sh" local | jq -r '.env[] | select(.name | startswith("CSVOL_") | not) | "\(.name)=\(.value)"')
csvol_env=("${plugin_env[@]}" CSVOL_BACKEND=local "CSVOL_SOCKET=$csvol_sock" "CSVOL_STATE_DIR=$state"
  "CSVOL_MOUNT_ROOT=$work/mnt" CSVOL_LOG_LEVEL=warning)
csvol_cmd=(env "${csvol_env[@]}" "$CSVOL_BIN")
stub_cmd=("$plugbench" serve -sock "$stub_sock" -root "$work/stub-root")

if [[ -n $plugbench ]]; then
  client="plugbench load" cold_tool="plugbench cold -settle 500ms"
else
  cold_tool="Csvol.Bench cold"
  client="Csvol.Bench load"
  say "no plugbench: csvol's own figures only, measured with Csvol.Bench; yardstick columns are not available"
fi

# load SOCK ENDPOINT BODY N C [extra args]: one JSON line from the yardstick's client (or ours without it).
load() {
  local sock=$1 endpoint=$2 body=$3 n=$4 c=$5
  shift 5
  if [[ -n $plugbench ]]; then
    "$plugbench" load -sock "$sock" -endpoint "$endpoint" -body "$body" -n "$n" -c "$c" -warmup "$WARMUP" "$@"
  else
    "$BENCH_TOOL" load --sock "$sock" --endpoint "$endpoint" --body "$body" --n "$n" --c "$c" --warmup "$WARMUP" "${@/#-/--}"
  fi
}

# pair SOCK N C: Mount then Unmount of the same ID, timed as one (Csvol.Bench; plugbench sends one endpoint per run).
pair() {
  "$BENCH_TOOL" load --sock "$1" --endpoint /VolumeDriver.Mount --then /VolumeDriver.Unmount \
    --body '{"Name":"pair{{i}}","ID":"bench{{i}}"}' --keyspace 8 --n "$2" --c "$3" --warmup 64
}

await_socket() {
  local sock=$1 pid=$2 i
  for ((i = 0; i < 200; i++)); do
    [[ -S $sock ]] && return 0
    kill -0 "$pid" 2>/dev/null || die "server for $sock exited at start"
    sleep 0.05
  done
  die "nothing listens on $sock after 10 s"
}

must_ok() { # JSON from load: fail loudly on any error rather than report figures of failed calls
  local json=$1 what=$2
  [[ $(jq -r .errors <<<"$json") == 0 ]] || die "$what: $(jq -r '.first_error // "errors"' <<<"$json")"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

# ---------------------------------------------------------------- 2: cold start and idle memory
say "cold start: $COLD_ROUNDS alternating rounds of $COLD_RUNS launches"
csvol_ready=() stub_ready=() csvol_idle=() stub_idle=()
for ((round = 0; round < COLD_ROUNDS; round++)); do
  rm -rf "$state"
  if [[ -n $plugbench ]]; then
    j=$("$plugbench" cold -sock "$csvol_sock" -runs "$COLD_RUNS" -rm-sock -settle 500ms -- "${csvol_cmd[@]}")
    mapfile -t -O "${#csvol_ready[@]}" csvol_ready < <(jq -r '.runs[].ready_ms' <<<"$j")
    mapfile -t -O "${#csvol_idle[@]}" csvol_idle < <(jq -r '.runs[].vmrss_kb' <<<"$j")
    j=$("$plugbench" cold -sock "$stub_sock" -runs "$COLD_RUNS" -rm-sock -settle 500ms -- "${stub_cmd[@]}")
    mapfile -t -O "${#stub_ready[@]}" stub_ready < <(jq -r '.runs[].ready_ms' <<<"$j")
    mapfile -t -O "${#stub_idle[@]}" stub_idle < <(jq -r '.runs[].vmrss_kb' <<<"$j")
  else
    env_args=()
    for kv in "${csvol_env[@]}"; do env_args+=(--env "$kv"); done
    j=$("$BENCH_TOOL" cold --sock "$csvol_sock" --runs "$COLD_RUNS" "${env_args[@]}" -- "$CSVOL_BIN")
    mapfile -t -O "${#csvol_ready[@]}" csvol_ready < <(jq -r '.runs[].ready_ms' <<<"$j")
    mapfile -t -O "${#csvol_idle[@]}" csvol_idle < <(jq -r '.runs[].vmrss_kb' <<<"$j")
  fi
done
cold_how="$((COLD_ROUNDS * COLD_RUNS)) launches in $COLD_ROUNDS alternating rounds, median; process start to first 200 from /Plugin.Activate"
c_ready=$(printf '%s\n' "${csvol_ready[@]}" | median)
s_ready=$( ((${#stub_ready[@]})) && printf '%s\n' "${stub_ready[@]}" | median || true)
# <=10x since issue 10 moved csvol onto ASP.NET Core's WebApplication: ~10 ms more per start, once, for a host any
# ASP.NET Core developer reads at sight (a plugin's start is dominated by dockerd starting its container).
bench_row "$out" "$S2" "cold start to first Activate" ms "$c_ready" "$s_ready" "Go stub" "<=10" \
  "$cold_tool, $cold_how"

# Idle RSS: after the first Activate, nothing else asked (0.5 s later with plugbench cold -settle).
c_idle=$(mb "$(printf '%s\n' "${csvol_idle[@]}" | median)")
s_idle=$( ((${#stub_idle[@]})) && mb "$(printf '%s\n' "${stub_idle[@]}" | median)" || true)
bench_row "$out" "$S2" "idle RSS after first Activate" MB "$c_idle" "$s_idle" "Go stub" "<=3" \
  "$cold_tool, VmRSS, median of $((COLD_ROUNDS * COLD_RUNS))"

# ---------------------------------------------------------------- 1: protocol latency and throughput
rm -rf "$state"
"${csvol_cmd[@]}" >"$work/csvol.log" 2>&1 &
csvol_pid=$!
await_socket "$csvol_sock" "$csvol_pid"
socks=("$csvol_sock")
if [[ -n $plugbench ]]; then
  "${stub_cmd[@]}" >/dev/null 2>&1 &
  stub_pid=$!
  await_socket "$stub_sock" "$stub_pid"
  socks+=("$stub_sock")
fi
for sock in "${socks[@]}"; do
  must_ok "$(load "$sock" /VolumeDriver.Create '{"Name":"v1"}' 1 1 -warmup 0)" "Create v1 on $sock"
  for ((i = 0; i < 8; i++)); do
    must_ok "$(load "$sock" /VolumeDriver.Create "{\"Name\":\"pair$i\"}" 1 1 -warmup 0)" "Create pair$i on $sock"
  done
done

# measure LABEL ENDPOINT BODY N C TARGET_P50 TARGET_P99 TARGET_RPS: csvol and the stub in alternating rounds
# (so drift on this shared machine hits both alike), then three rows of median-round figures.
measure() {
  local label=$1 endpoint=$2 body=$3 n=$4 c=$5 t50=$6 t99=$7 trps=$8 r j cjs="" sjs="" how
  for ((r = 0; r < ROUNDS; r++)); do
    j=$(load "$csvol_sock" "$endpoint" "$body" $((n / ROUNDS)) "$c")
    must_ok "$j" "csvol $label"
    cjs+="$j"$'\n'
    if [[ -n $stub_pid ]]; then
      j=$(load "$stub_sock" "$endpoint" "$body" $((n / ROUNDS)) "$c")
      must_ok "$j" "stub $label"
      sjs+="$j"$'\n'
    fi
  done
  how="$client, $ROUNDS alternating rounds of $((n / ROUNDS)) after $WARMUP warm-up, median round; $c keep-alive connection(s)"
  emit_load_rows "$label" "$c" "$(median_round <<<"$cjs")" "$( [[ -n $sjs ]] && median_round <<<"$sjs" || true)" \
    "$t50" "$t99" "$trps" "$how"
}

# median_round: JSON lines of load results in, one object out with the median of each figure.
median_round() {
  jq -sc 'def med(f): map(f) | sort | .[(length - 1) / 2 | floor]; {p50_us: med(.p50_us), p99_us: med(.p99_us), rps: med(.rps)}'
}

emit_load_rows() {
  local label=$1 c=$2 cj=$3 sj=$4 t50=$5 t99=$6 trps=$7 how=$8 field
  for field in p50_us p99_us rps; do
    local unit=µs name=${field%_us} target=$t50
    [[ $field == p99_us ]] && target=$t99
    [[ $field == rps ]] && unit=req/s target=$trps
    bench_row "$out" "$S1" "$label @$c conn $name" "$unit" "$(jq -r ".$field" <<<"$cj")" \
      "$( [[ -n $sj ]] && jq -r ".$field" <<<"$sj" || true)" "Go stub" "$target" "$how"
  done
}

say "protocol latency: Activate, Capabilities, Get, Path, List (1 volume) at 1 and 8 connections"
for c in 1 8; do
  if ((c == 1)); then t50="<=1.2" t99="<=1.2" trps=""; else t50="" t99="" trps=">=1"; fi
  measure Activate /Plugin.Activate '{}' "$N" "$c" "" "" ""
  measure Capabilities /VolumeDriver.Capabilities '{}' "$N" "$c" "$t50" "$t99" "$trps"
  measure Get /VolumeDriver.Get '{"Name":"v1"}' "$N" "$c" "$t50" "$t99" "$trps"
  measure Path /VolumeDriver.Path '{"Name":"v1"}' "$N" "$c" "$t50" "$t99" "$trps"
  measure "List (9 volumes)" /VolumeDriver.List '{}' "$N" "$c" "" "" ""
done

say "Mount+Unmount pairs at 1 and 8 connections"
for c in 1 8; do
  cj=$(pair "$csvol_sock" "$PAIRS" "$c")
  must_ok "$cj" "csvol Mount+Unmount"
  sj=""
  if [[ -n $stub_pid ]]; then
    sj=$(pair "$stub_sock" "$PAIRS" "$c")
    must_ok "$sj" "stub Mount+Unmount"
  fi
  emit_load_rows "Mount+Unmount" "$c" "$cj" "$sj" "" "" "" \
    "Csvol.Bench load --then (one Mount and its Unmount timed as one), n=$PAIRS pairs over 8 volumes; csvol mounts with mount(2) and writes state durably, the stub does neither"
done
[[ -z $(findmnt -rn -o TARGET | grep -F "$work/mnt/" || true) ]] || die "Mount+Unmount left mounts under $work/mnt"

say "creating $VOLUMES volumes in each"
for sock in "${socks[@]}"; do
  must_ok "$(load "$sock" /VolumeDriver.Create '{"Name":"bulk{{i}}"}' "$VOLUMES" 8 -warmup 0)" "Create x$VOLUMES on $sock"
done
for c in 1 8; do
  t50=""; ((c == 1)) && t50="<=2"
  WARMUP=10 measure "List (10,009 volumes)" /VolumeDriver.List '{}' "$LISTS" "$c" "$t50" "" ""
done

# ---------------------------------------------------------------- 2: memory with 10,000 volumes
busy_kb=$(rss_kb "$csvol_pid")
peak_kb=$(hwm_kb "$csvol_pid")
stub_busy="" stub_peak=""
if [[ -n $stub_pid ]]; then
  stub_busy=$(mb "$(rss_kb "$stub_pid")")
  stub_peak=$(mb "$(hwm_kb "$stub_pid")")
fi
bench_row "$out" "$S2" "RSS after the runs above, 10,009 volumes" MB "$(mb "$busy_kb")" "$stub_busy" "Go stub" "" \
  "VmRSS of the serving process after every protocol run and $((2 * LISTS)) Lists of 10,009"
bench_row "$out" "$S2" "peak RSS over the runs above" MB "$(mb "$peak_kb")" "$stub_peak" "Go stub" "" "VmHWM of the serving process"
stop_servers

# State held: a fresh csvol that loaded the 10,009 records from disk, against a fresh one with none.
held_runs=()
for ((i = 0; i < 3; i++)); do
  "${csvol_cmd[@]}" >>"$work/csvol.log" 2>&1 &
  csvol_pid=$!
  await_socket "$csvol_sock" "$csvol_pid"
  must_ok "$(load "$csvol_sock" /VolumeDriver.List '{}' 1 1 -warmup 0)" "List after restart" # answers once loaded
  sleep 1
  held_runs+=("$(rss_kb "$csvol_pid")")
  stop_servers
done
held_kb=$(printf '%s\n' "${held_runs[@]}" | median)
empty_kb=$(printf '%s\n' "${csvol_idle[@]}" | median)
bench_row "$out" "$S2" "state for 10,009 volumes above idle" MB "$(mb $((held_kb - empty_kb)))" "" "" "abs<=20" \
  "VmRSS 1 s after a fresh start has loaded the 10,009 records (median of 3) minus idle RSS with none"

# ---------------------------------------------------------------- allocations per call
say "allocations per call (in-process, JIT build of the same code)"
aj=$("$BENCH_TOOL" alloc --n "$N" 2>"$work/alloc.log") || die "Csvol.Bench alloc failed: $(tail -5 "$work/alloc.log")"
for call in Capabilities Get Path List_1 MountUnmount; do
  label=$call
  [[ $call == List_1 ]] && label="List (1 volume)"
  [[ $call == MountUnmount ]] && label="Mount+Unmount pair"
  bench_row "$out" "$S1" "$label: bytes allocated per call" B "$(jq -r ".bytes_per_request.$call" <<<"$aj")" "" "" "" \
    "Csvol.Bench alloc: GC.GetTotalAllocatedBytes over n calls, minus the client thread's own, / n"
done
say "protocol section done"
