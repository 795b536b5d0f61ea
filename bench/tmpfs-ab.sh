#!/usr/bin/env bash
# Diagnostic, not part of make bench: is a csvol/local tmpfs volume slower per 4k I/O than a built-in local tmpfs
# volume? One long-lived container holds three tmpfs file systems of the same size:
#   csvol  a csvol/local volume (type=tmpfs), mounted by the plugin in its namespace, reaching the container
#          through the propagated mount
#   local  a built-in local volume (type=tmpfs, device=tmpfs), mounted by dockerd
#   ctl    a --tmpfs mount that runc makes inside the container (no volume driver at all)
# and prints their options as the container sees them (/proc/self/mountinfo). Each round runs one fio process
# (docker exec) with the targets in an order that rotates from round to round, one job at a time (stonewall):
#   MODE=steady  4k random read, then 4k random write, SECONDS_PER_JOB each, on a file laid out once at the start
#   MODE=bench   what bench/datapath.sh does per volume: a new file written sequentially, seq read, 4k random
#                read, 4k random write (SECONDS_PER_JOB each), unlink
# and prints per target the median IOPS (and MiB/s of the sequential jobs in bench mode), and the per-round ratios against local (median, spread, and in how many
# rounds each was below local), plus the ratio by position in the round (first / middle / last).
# Usage: bench/tmpfs-ab.sh [ROUNDS]   (DOCKER_HOST at the private dockerd with csvol/local enabled; MODE=, SIZE=)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rounds=${1:-12}
mode=${MODE:-steady}
size=${SIZE:-1g}
secs=${SECONDS_PER_JOB:-1}
PLUGIN=csvol/local
FIO_IMAGE=csvol-bench-fio:bookworm
PREFIX=csvoltmpfsab-
targets=(csvol local ctl)

bench_need_plugin "$PLUGIN"
docker image inspect "$FIO_IMAGE" >/dev/null 2>&1 || die "$FIO_IMAGE is missing; bench/datapath.sh makes it"
work="$(mktemp -d)"
cid=""
cleanup() {
  [[ -z $cid ]] || docker rm -f "$cid" >/dev/null 2>&1 || true
  docker volume rm -f "${PREFIX}csvol" "${PREFIX}local" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cleanup
work="$(mktemp -d)"

docker volume create -d "$PLUGIN" -o type=tmpfs -o size=2g "${PREFIX}csvol" >/dev/null
docker volume create -d local -o type=tmpfs -o device=tmpfs -o o=size=2g "${PREFIX}local" >/dev/null
cid="$(docker run -d --network none --label "csvol-bench=$PREFIX" -v "${PREFIX}csvol:/csvol" -v "${PREFIX}local:/local" \
  --tmpfs /ctl:size=2g,mode=1777 "$FIO_IMAGE" sleep infinity)"
echo "mounts as the container sees them:"
docker exec "$cid" sh -c 'grep -E " /(csvol|local|ctl) " /proc/self/mountinfo'

common=(--ioengine=psync --direct=0 --invalidate=1 --fallocate=none --output-format=json "--size=$size")
if [[ $mode == steady ]]; then
  # lay the three files out once
  docker exec "$cid" fio "${common[@]}" --name=layout --rw=write --bs=1M \
    --filename=/csvol/data.bin:/local/data.bin:/ctl/data.bin --file_service_type=sequential >/dev/null
fi
job() { local name=$1 t=$2; shift 2; printf '%s\n' "--name=$name-$t" --stonewall "--filename=/$t/data.bin" "$@"; }
n=${#targets[@]}
for ((r = 0; r < rounds; r++)); do
  order=()
  for ((k = 0; k < n; k++)); do order+=("${targets[(k + r) % n]}"); done
  args=("${common[@]}")
  for t in "${order[@]}"; do
    if [[ $mode == bench ]]; then
      mapfile -t -O "${#args[@]}" args < <(job seqwrite "$t" --rw=write --bs=1M
        job seqread "$t" --rw=read --bs=1M --time_based "--runtime=$secs")
    fi
    mapfile -t -O "${#args[@]}" args < <(job randread "$t" --rw=randread --bs=4k --time_based "--runtime=$secs"
      if [[ $mode == bench ]]; then job randwrite "$t" --rw=randwrite --bs=4k --time_based "--runtime=$secs" --unlink=1
      else job randwrite "$t" --rw=randwrite --bs=4k --time_based "--runtime=$secs"; fi)
  done
  psi="$(awk '$1 == "some" { sub("avg10=", "", $2); print $2 }' /proc/pressure/cpu 2>/dev/null || echo -)"
  docker exec "$cid" fio "${args[@]}" >"$work/out.json" 2>"$work/err" || { cat "$work/err" >&2; die "fio failed in round $r"; }
  for ((k = 0; k < n; k++)); do
    t=${order[k]}
    jq -r --arg t "$t" --arg pos "$k" --arg r "$r" --arg psi "$psi" '[.jobs[] | {key: .jobname, value: .}] | from_entries |
      [$r, $t, $pos, (.["randread-\($t)"].read.iops | round), (.["randwrite-\($t)"].write.iops | round), $psi,
       ((.["seqread-\($t)"].read.bw // 0) / 1024 | round), ((.["seqwrite-\($t)"].write.bw // 0) / 1024 | round)] | @tsv' \
      "$work/out.json" >>"$work/rows"
  done
  say "round $((r + 1))/$rounds ($mode, order ${order[*]}, cpu psi avg10 $psi): $(awk -v r="$r" '$1 == r { printf "%s rr %s rw %s; ", $2, $4, $5 }' "$work/rows")"
done

python3 - "$work/rows" "$n" <<'EOF'
import sys, statistics as st
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
n = int(sys.argv[2])
by = {(int(r), t): (int(p), float(rr), float(rw), float(sr), float(sw)) for r, t, p, rr, rw, _, sr, sw in rows}
rounds = sorted({int(r[0]) for r in rows})
metrics = [(1, "rand read 4k IOPS"), (2, "rand write 4k IOPS")]
if all(v[3] > 0 for v in by.values()):
    metrics += [(3, "seq read 1M MiB/s"), (4, "seq write 1M MiB/s")]
for i, metric in metrics:
    print(f"{metric}: median over {len(rounds)} rounds")
    for t in ("csvol", "local", "ctl"):
        vals = [by[(r, t)][i] for r in rounds]
        line = f"  {t:6s} {st.median(vals):9.0f}"
        if t != "local":
            ratios = sorted(by[(r, t)][i] / by[(r, "local")][i] for r in rounds)
            below = sum(x < 1 for x in ratios)
            line += f"   {t}/local per round: median {st.median(ratios):.3f}, range {ratios[0]:.2f}-{ratios[-1]:.2f}, below 1 in {below}/{len(ratios)}"
        print(line)
    print("  by position in the round (all targets): " + ", ".join(
        f"pos {p}: median {st.median(by[(r, t)][i] for r in rounds for t in ('csvol', 'local', 'ctl') if by[(r, t)][0] == p):.0f}"
        for p in range(n)))
EOF
echo "raw (round target position randread randwrite psi seqread seqwrite):"
cat "$work/rows"
