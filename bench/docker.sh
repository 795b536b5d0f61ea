#!/usr/bin/env bash
# Benchmark section 3, "Through a real dockerd": what a docker CLI user waits for with csvol/local beside
# Docker's built-in local driver. Appends JSON rows to the file given as the only argument.
#   - docker run --rm -v VOL:/d IMAGE true, the two drivers interleaved to cancel drift;
#   - docker volume ls -q with 1,000 volumes, each driver in its own phase (only its 1,000 volumes exist).
# Assumes (and checks) root, DOCKER_HOST at a running dockerd, csvol/local enabled there, the base image.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_WARMUP=3          # untimed docker runs per driver before timing
RUN_PAIRS=40          # timed docker runs per driver, interleaved
LS_VOLUMES=1000       # volumes per driver for the docker volume ls phase
LS_RUNS=30            # timed docker volume ls per phase (after one untimed)
PARALLEL=8            # xargs -P for creating and removing the volumes
PLUGIN=csvol/local
IMAGE="$CSVOL_BASE_IMAGE"
PREFIX=csvolbench3-   # every volume and container this script makes starts with this
SECTION="3 dockerd"

[[ $# -eq 1 ]] || die "usage: $0 RESULTS_FILE   (JSON lines are appended to it)"
out=$1

# --- preconditions --------------------------------------------------------------------------------
need_root "$@"
bench_need_plugin "$PLUGIN"
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE is missing at $DOCKER_HOST; run scripts/base-image.sh"

# --- cleanup: everything named $PREFIX*, also on failure or interrupt ---------------------------------
our_volumes() { docker volume ls -q --filter "name=$PREFIX" | grep "^$PREFIX" || true; }
cleanup() {
  docker ps -aq --filter "label=csvol-bench=$PREFIX" | xargs -r docker rm -f >/dev/null 2>&1 || true
  our_volumes | xargs -r -P "$PARALLEL" -n 50 docker volume rm -f >/dev/null 2>&1 || true
  [[ -z $(our_volumes) ]] || say "warning: could not remove volumes: $(our_volumes | head -5 | tr '\n' ' ')..."
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup # leftovers of an earlier interrupted run would distort the figures

# percentile P: reads numbers, one per line, prints the nearest-rank P-th percentile.
percentile() {
  sort -g | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) exit 1; i = int(NR * p / 100); if (i < NR * p / 100) i++; if (i < 1) i = 1; print v[i] }'
}

# --- docker run --rm -v ----------------------------------------------------------------------------
csvol_vol="${PREFIX}run-csvol"
local_vol="${PREFIX}run-local"
docker volume create -d "$PLUGIN" "$csvol_vol" >/dev/null
docker volume create -d local "$local_vol" >/dev/null

# time_run VOLUME: prints the wall time in ms of one docker run with VOLUME mounted.
time_run() {
  local t0 t1 err
  t0=$(now_ns)
  if ! err="$(docker run --rm --label "csvol-bench=$PREFIX" -v "$1:/d" "$IMAGE" true 2>&1)"; then
    die "docker run -v $1:/d $IMAGE true failed: $err"
  fi
  t1=$(now_ns)
  awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f\n", d / 1e6 }'
}

say "docker run --rm -v: $RUN_WARMUP warm-up runs per driver, then $RUN_PAIRS interleaved runs each"
for ((i = 0; i < RUN_WARMUP; i++)); do time_run "$csvol_vol" >/dev/null; time_run "$local_vol" >/dev/null; done
csvol_ms=() local_ms=()
for ((i = 0; i < RUN_PAIRS; i++)); do
  # Alternate which driver goes first (ABBA) so neither always runs right after the other.
  if ((i % 2 == 0)); then
    csvol_ms+=("$(time_run "$csvol_vol")"); local_ms+=("$(time_run "$local_vol")")
  else
    local_ms+=("$(time_run "$local_vol")"); csvol_ms+=("$(time_run "$csvol_vol")")
  fi
done
say "csvol/local ms: ${csvol_ms[*]}"
say "built-in local ms: ${local_ms[*]}"
how="wall time of the docker CLI (docker run --rm -v VOL:/d $IMAGE true), $RUN_WARMUP warm-up + $RUN_PAIRS runs per driver interleaved ABBA"
bench_row "$out" "$SECTION" "docker run --rm -v (median)" ms \
  "$(printf '%s\n' "${csvol_ms[@]}" | median)" "$(printf '%s\n' "${local_ms[@]}" | median)" \
  "built-in local" "<=1.05" "$how, median"
bench_row "$out" "$SECTION" "docker run --rm -v (p90)" ms \
  "$(printf '%s\n' "${csvol_ms[@]}" | percentile 90)" "$(printf '%s\n' "${local_ms[@]}" | percentile 90)" \
  "built-in local" "" "$how, p90 (nearest rank)"
# The ratio of the two medians moves by several percent between identical runs on this shared machine (0.92x to
# 1.16x in four runs of bench/findings.md) because it does not pair runs. Each ABBA pair ran within half a second,
# so a per-pair comparison cancels the machine's drift: the median per-pair difference and ratio, with 90%
# bootstrap intervals (1,000 resamples of the pairs) for it and for the ratio of medians.
paired="$(paste <(printf '%s\n' "${csvol_ms[@]}") <(printf '%s\n' "${local_ms[@]}") | awk '
  function med(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { c[NR] = $1; l[NR] = $2 }
  END {
    n = NR; srand(1)
    for (i = 1; i <= n; i++) { d[i] = c[i] - l[i]; r[i] = c[i] / l[i] }
    md = med(d, n); mr = med(r, n)
    for (b = 1; b <= 1000; b++) {
      for (i = 1; i <= n; i++) { k = int(rand() * n) + 1; rc[i] = c[k]; rl[i] = l[k]; rr[i] = c[k] / l[k] }
      bm[b] = med(rc, n) / med(rl, n); bp[b] = med(rr, n)
    }
    med(bm, 1000); med(bp, 1000)
    printf "%.2f %.3f %.3f %.3f %.3f %.3f\n", md, mr, bp[50], bp[950], bm[50], bm[950]
  }')"
read -r pair_diff pair_ratio pr_lo pr_hi rm_lo rm_hi <<<"$paired"
say "paired: median difference $pair_diff ms, median per-pair ratio $pair_ratio (90% $pr_lo-$pr_hi); ratio of medians 90% interval $rm_lo-$rm_hi"
bench_row "$out" "$SECTION" "docker run --rm -v, paired: median of per-pair csvol − built-in" ms "$pair_diff" "" "" "" \
  "the $RUN_PAIRS ABBA pairs above (each csvol run and the built-in run next to it): median per-pair difference; median per-pair ratio ${pair_ratio}× (90% bootstrap interval $pr_lo-$pr_hi); for comparison the ratio of the two medians has a 90% bootstrap interval of $rm_lo-$rm_hi"
docker volume rm "$csvol_vol" "$local_vol" >/dev/null

# --- docker volume ls with 1,000 volumes -----------------------------------------------------------
others="$(docker volume ls -q | wc -l)"
((others == 0)) || say "warning: $others volumes not made by this script exist; both phases list them too"

# ls_phase DRIVER: creates $LS_VOLUMES volumes of DRIVER, prints the median ms of docker volume ls -q, removes them.
ls_phase() {
  local driver=$1 tag t0 t1 n i ms=()
  tag="$(tr -c 'a-z0-9\n' '-' <<<"$driver")"
  say "docker volume ls: creating $LS_VOLUMES $driver volumes ($PARALLEL in parallel)"
  seq -f "${PREFIX}ls-${tag}%04g" 1 "$LS_VOLUMES" |
    xargs -P "$PARALLEL" -n 1 docker volume create -d "$driver" >/dev/null ||
    die "creating $LS_VOLUMES $driver volumes failed (see the errors above)"
  n="$(docker volume ls -q | wc -l)"
  ((n == LS_VOLUMES + others)) || die "docker volume ls lists $n volumes, expected $((LS_VOLUMES + others))"
  docker volume ls -q >/dev/null # untimed: first call after the creates
  for ((i = 0; i < LS_RUNS; i++)); do
    t0=$(now_ns)
    docker volume ls -q >/dev/null
    t1=$(now_ns)
    ms+=("$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f\n", d / 1e6 }')")
  done
  say "$driver ls ms: ${ms[*]}"
  say "docker volume ls: removing the $driver volumes"
  our_volumes | xargs -r -P "$PARALLEL" -n 50 docker volume rm >/dev/null ||
    die "removing the $driver volumes failed (see the errors above)"
  n="$(our_volumes | wc -l)"
  ((n == 0)) || die "$n $driver volumes are still there after docker volume rm"
  printf '%s\n' "${ms[@]}" | median
}

ls_csvol="$(ls_phase "$PLUGIN")"
ls_local="$(ls_phase local)"
bench_row "$out" "$SECTION" "docker volume ls, 1,000 volumes (median)" ms "$ls_csvol" "$ls_local" \
  "built-in local" "<=1.2" \
  "wall time of docker volume ls -q, $LS_VOLUMES volumes of one driver at a time (created with xargs -P $PARALLEL), 1 untimed + $LS_RUNS timed runs, median"
say "done"
