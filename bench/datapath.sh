#!/usr/bin/env bash
# Benchmark section 4, "Data path": fio inside a container, the same fio command through a csvol/local volume
# and through a built-in local volume, for a dir volume pair and a tmpfs volume pair; rounds interleaved,
# median per metric. Appends JSON rows to the file given as the only argument.
# Assumes (and checks) root, DOCKER_HOST at a running dockerd, csvol/local enabled there, the fio image (made here).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=6              # rounds (even: each driver goes first equally often); driver order alternates per round
DIR_SEQ_SIZE=384m     # dir pair: file written (end_fsync) then read back (cache dropped) sequentially
DIR_RAND_SECONDS=1    # dir pair: seconds of 4k random read, and of 4k random write (+ final fsync)
SETTLE_SECONDS=1      # dir pair: pause before each volume's sequence, for the disk to finish the previous one
TMPFS_FILE_SIZE=1g    # tmpfs pair: file written sequentially (fresh pages), then read and written for TMPFS_SECONDS each
TMPFS_SECONDS=1       # tmpfs pair: seconds of seq read, of 4k random read and of 4k random write
TMPFS_VOLUME_SIZE=2g  # size cap of both tmpfs volumes
PLUGIN=csvol/local
FIO_IMAGE=csvol-bench-fio:bookworm
PREFIX=csvolbench4-   # every volume and container this script makes starts with this
SECTION="4 data path"

[[ $# -eq 1 ]] || die "usage: $0 RESULTS_FILE   (JSON lines are appended to it)"
out=$1

# --- preconditions --------------------------------------------------------------------------------
need_root "$@"
bench_need_plugin "$PLUGIN"

# --- cleanup: everything named $PREFIX*, also on failure or interrupt ---------------------------------
our_volumes() { docker volume ls -q --filter "name=$PREFIX" | grep "^$PREFIX" || true; }
work=""
cleanup() {
  docker ps -aq --filter "label=csvol-bench=$PREFIX" | xargs -r docker rm -f >/dev/null 2>&1 || true
  our_volumes | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  [[ -z $(our_volumes) ]] || say "warning: could not remove volumes: $(our_volumes | tr '\n' ' ')"
  [[ -z $work ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
work="$(mktemp -d)"

# --- the fio image: the base image plus fio, made once on the host with debootstrap and kept ----------------
# (not docker build + apt-get: the private dockerd has no network, see scripts/dockerd.sh)
"$CSVOL_REPO_ROOT/scripts/base-image.sh" "$FIO_IMAGE" fio ||
  die "could not make $FIO_IMAGE, the image with fio the data-path benchmark runs (output above)"

# --- volumes ---------------------------------------------------------------------------------------
docker volume create -d "$PLUGIN" "${PREFIX}dir-csvol" >/dev/null
docker volume create -d local "${PREFIX}dir-local" >/dev/null
docker volume create -d "$PLUGIN" -o type=tmpfs -o "size=$TMPFS_VOLUME_SIZE" "${PREFIX}tmpfs-csvol" >/dev/null
docker volume create -d local -o type=tmpfs -o device=tmpfs -o "o=size=$TMPFS_VOLUME_SIZE" "${PREFIX}tmpfs-local" >/dev/null

# --- fio jobs ---------------------------------------------------------------------------------------
# One container per pair and round mounts both volumes (csvol at /csvol, built-in at /local) and runs the
# whole sequence (seq write, seq read, 4k random read, 4k random write) on one volume and then on the
# other, one job at a time (stonewall), so both see about the same moment of a noisy machine; which goes
# first alternates per round. Each volume's sequence runs the same way after the same kind of activity:
# interleaving job by job instead made every job depend on its position (a read right after the other
# volume's write+fsync was 2-3x slower while the virtual disk was still flushing), and a settle pause
# (SETTLE_SECONDS) starts each sequence on the dir pair.
# Buffered psync I/O (tmpfs has no O_DIRECT). invalidate=1 drops the page cache of the file when each job
# starts, so on the dir pair the reads come from the disk, not from the cache the write just filled; the
# dir writes end with an fsync that counts in their time (end_fsync=1). fallocate=none: the sequential
# write allocates as it goes, as an application's would (on tmpfs a preallocated file made the first
# writer several times faster than the second). The last job unlinks the file, so every round starts from
# empty volumes.
common=(--ioengine=psync --direct=0 --invalidate=1 --fallocate=none --output-format=json)
# job NAME DRIVER OPTION...: one fio job on DRIVER's volume, run after everything before it. (An absolute
# filename per job: fio resolves a global filename before it sees a job's directory, i.e. in the cwd.)
job() { local name=$1 driver=$2; shift 2; printf '%s\n' "--name=$name-$driver" --stonewall "--filename=/$driver/data.bin" "$@"; }
# jobs PAIR FIRST SECOND: the fio arguments for PAIR, the whole sequence on FIRST's volume then on SECOND's.
jobs() {
  local pair=$1 d
  shift
  if [[ $pair == dir ]]; then
    printf '%s\n' "${common[@]}" "--size=$DIR_SEQ_SIZE"
    for d in "$@"; do
      job seqwrite "$d" --rw=write --bs=1M --end_fsync=1 "--startdelay=$SETTLE_SECONDS"
      job seqread "$d" --rw=read --bs=1M
      job randread "$d" --rw=randread --bs=4k --time_based "--runtime=$DIR_RAND_SECONDS"
      job randwrite "$d" --rw=randwrite --bs=4k --time_based "--runtime=$DIR_RAND_SECONDS" --end_fsync=1 --unlink=1
    done
  else
    printf '%s\n' "${common[@]}" "--size=$TMPFS_FILE_SIZE"
    for d in "$@"; do
      job seqwrite "$d" --rw=write --bs=1M
      job seqread "$d" --rw=read --bs=1M --time_based "--runtime=$TMPFS_SECONDS"
      job randread "$d" --rw=randread --bs=4k --time_based "--runtime=$TMPFS_SECONDS"
      job randwrite "$d" --rw=randwrite --bs=4k --time_based "--runtime=$TMPFS_SECONDS" --unlink=1
    done
  fi
}

# run_fio PAIR FIRST SECOND: one round of PAIR; appends "seqread_MiBps seqwrite_MiBps randread_IOPS
# randwrite_IOPS" to $work/PAIR-csvol and $work/PAIR-local.
run_fio() {
  local pair=$1 json d args
  mapfile -t args < <(jobs "$@")
  if ! docker run --rm --network none --read-only --label "csvol-bench=$PREFIX" \
    -v "${PREFIX}$pair-csvol:/csvol" -v "${PREFIX}$pair-local:/local" "$FIO_IMAGE" \
    fio "${args[@]}" >"$work/fio.out" 2>"$work/fio.err"; then
    cat "$work/fio.err" "$work/fio.out" >&2
    die "fio on the $pair volumes failed (output above)"
  fi
  # fio may print notes before its JSON; the JSON starts at the first line that is just "{".
  json="$(sed -n '/^{/,$p' "$work/fio.out")"
  # Each job must have run on its own volume (the root file system is read-only besides).
  jq -e 'all(.jobs[]; ."job options".filename == "/\(.jobname | split("-") | last)/data.bin")' <<<"$json" >/dev/null ||
    die "fio ran a job outside its volume: $(jq -c '[.jobs[] | {jobname, filename: ."job options".filename}]' <<<"$json")"
  jq -e '[.jobs[] | select(.error != 0)] | length == 0' <<<"$json" >/dev/null ||
    die "fio on the $pair volumes reported job errors: $(jq -c '[.jobs[] | {jobname, error}]' <<<"$json")"
  for d in csvol local; do
    jq -r --arg d "$d" '[.jobs[] | {key: .jobname, value: .}] | from_entries |
      [(.["seqread-\($d)"].read.bw / 1024), (.["seqwrite-\($d)"].write.bw / 1024),
       .["randread-\($d)"].read.iops, .["randwrite-\($d)"].write.iops]
      | map(. * 10 | round / 10) | @tsv' <<<"$json" >>"$work/$pair-$d"
  done
}

fmt() { awk -F'\t' '{ printf "seq read %s MiB/s, seq write %s MiB/s, rand read %s IOPS, rand write %s IOPS", $1, $2, $3, $4 }'; }
say "data path: $ROUNDS rounds of fio, each the dir pair then the tmpfs pair, csvol/local and built-in local interleaved"
for ((r = 1; r <= ROUNDS; r++)); do
  for pair in dir tmpfs; do
    if ((r % 2)); then run_fio "$pair" csvol local; else run_fio "$pair" local csvol; fi
    say "round $r $pair csvol: $(tail -n 1 "$work/$pair-csvol" | fmt)"
    say "round $r $pair local: $(tail -n 1 "$work/$pair-local" | fmt)"
  done
done

# column FILE N: median of column N of FILE.
column() { cut -f "$2" "$1" | median; }
# round_ratios PAIR N: the lowest and highest csvol/local ratio of column N over the rounds, as "a-b".
round_ratios() {
  paste <(cut -f "$2" "$work/$1-csvol") <(cut -f "$2" "$work/$1-local") |
    awk '$2 > 0 { r = $1 / $2; if (n++ == 0 || r < lo) lo = r; if (n == 1 || r > hi) hi = r } END { printf "%.2f-%.2f", lo, hi }'
}
# order_ratios PAIR N: the geometric mean of the per-round csvol/local ratios of column N, over all rounds and over
# the rounds in which csvol's sequence ran first (odd) and second (even). Which volume runs first in the container
# moves the figures (seq read on two built-in tmpfs volumes: the second 1.1-1.3x the first, see bench/findings.md);
# the order alternates, so over an even number of rounds the geometric mean cancels such a factor exactly, and
# the two halves show its size.
order_ratios() {
  paste <(cut -f "$2" "$work/$1-csvol") <(cut -f "$2" "$work/$1-local") |
    awk '$1 > 0 && $2 > 0 { l = log($1 / $2); a += l; n++; if (NR % 2) { o += l; no++ } else { e += l; ne++ } }
      END { if (n) printf "geometric mean %.3f (csvol first %.3f, csvol second %.3f)", exp(a / n), no ? exp(o / no) : 0, ne ? exp(e / ne) : 0 }'
}
fio_version="$(docker run --rm --network none "$FIO_IMAGE" fio --version)"
how_common="$fio_version in one container per round with both volumes mounted, the job sequence on one volume then on the other (order alternating per round); psync, buffered, invalidate=1; $ROUNDS rounds, median"
metrics=("seq read|MiB/s|1|bs=1M" "seq write|MiB/s|2|bs=1M" "rand read 4k|IOPS|3|bs=4k" "rand write 4k|IOPS|4|bs=4k")
for pair in dir tmpfs; do
  if [[ $pair == dir ]]; then yard="built-in local"; else yard="built-in local tmpfs"; fi
  for m in "${metrics[@]}"; do
    IFS='|' read -r name unit col detail <<<"$m"
    if [[ $pair == dir ]]; then
      case $name in
        "seq write") detail="$detail, $DIR_SEQ_SIZE file, end_fsync=1 (fsync counted)" ;;
        "seq read") detail="$detail, $DIR_SEQ_SIZE file, page cache dropped before reading" ;;
        "rand read 4k") detail="$detail, ${DIR_RAND_SECONDS}s over a $DIR_SEQ_SIZE file, page cache dropped first" ;;
        "rand write 4k") detail="$detail, ${DIR_RAND_SECONDS}s over a $DIR_SEQ_SIZE file + end_fsync=1 (fsync counted)" ;;
      esac
    elif [[ $name == "seq write" ]]; then
      detail="$detail, a new $TMPFS_FILE_SIZE file (page allocation counted)"
    else
      detail="$detail, ${TMPFS_SECONDS}s over a $TMPFS_FILE_SIZE file"
    fi
    bench_row "$out" "$SECTION" "$name, $pair volume" "$unit" \
      "$(column "$work/$pair-csvol" "$col")" "$(column "$work/$pair-local" "$col")" \
      "$yard" ">=0.98" "$how_common; $detail; per-round ratios $(round_ratios "$pair" "$col"), $(order_ratios "$pair" "$col")"
  done
done

# A watch on a directory makes every write() under it queue an event and wake the watcher: an earlier
# csvol (generic host, reloadOnChange config) held ~2,800 inotify watches over its root file system, the
# volume data included, and 4k random writes to its dir volumes were 25-35% slower even from the host.
# plugin_inotify_watches: the number of inotify watches the plugin's processes hold.
plugin_inotify_watches() {
  local id shim pid fd n=0
  id="$(docker plugin inspect -f '{{.Id}}' "$PLUGIN")" || return 1
  shim="$(pgrep -f -- "-id $id" | head -n 1)" || return 1
  for pid in $(pgrep -P "$shim"); do
    for fd in /proc/"$pid"/fd/*; do
      [[ $(readlink "$fd" 2>/dev/null) == anon_inode:inotify ]] || continue
      n=$((n + $(grep -c '^inotify' "/proc/$pid/fdinfo/${fd##*/}" || true)))
    done
  done
  echo "$n"
}
if watches="$(plugin_inotify_watches)"; then
  bench_row "$out" "$SECTION" "inotify watches held by the plugin" watches "$watches" "" "" "abs<=0" \
    "count of inotify marks in /proc/PID/fdinfo of the plugin's processes (children of its containerd shim); a watch on a volume's directory wakes the plugin on every write there"
else
  say "warning: could not find the processes of $PLUGIN; no inotify row"
fi
say "done"
