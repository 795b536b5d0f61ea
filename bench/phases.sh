#!/usr/bin/env bash
# Diagnostic, not part of make bench: where the time of `docker run --rm -v VOL:/d IMAGE true` goes, for two or
# more volumes (e.g. a csvol/local one and a built-in local one). Each round runs every volume once, the order
# rotating from round to round (so each volume takes each position equally often over a multiple of N rounds),
# takes dockerd's own event timestamps (docker events, ns) for each run, and prints per volume the median of
# every phase, then the paired differences of every volume against the LAST one (same round):
#   cli        the docker CLI's wall time
#   pre        CLI start -> "volume create" event (CLI start-up; dockerd resolves the named volume: Capabilities, Get)
#   vol2create "volume create" -> "container create"
#   create2mnt "container attach" -> "volume mount" (start: Capabilities, Get, Capabilities, Mount; setupMounts)
#   mnt2start  "volume mount" -> "container start" (OCI spec, containerd, runc: namespaces, rootfs, bind of /d)
#   run        "container start" -> "container die"
#   die2umnt   "container die" -> "volume unmount" (cleanup: Capabilities, Get, Capabilities, Unmount)
#   umnt2dstr  "volume unmount" -> "container destroy" (--rm: removal)
#   post       "container destroy" -> CLI exit
# It also prints the CPU time each plugin in PLUGINS (space-separated managed plugin names, default csvol/local) used
# per round (its cgroup: v1 cpuacct.usage or v2 cpu.stat), and the paired cli difference in the rounds of lower and
# higher CPU pressure (/proc/pressure/cpu; note that the runs themselves add pressure).
# Usage: bench/phases.sh ROUNDS VOLUME... (DOCKER_HOST at the private dockerd; IMAGE= overrides the image)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 3 ]] || die "usage: $0 ROUNDS VOLUME VOLUME [VOLUME...]"
rounds=$1
shift
vols=("$@")
image=${IMAGE:-$CSVOL_BASE_IMAGE}
work="$(mktemp -d)"
events_pid=""
trap '[[ -z $events_pid ]] || kill "$events_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

# plugin_cpu_ns PLUGIN: CPU time (ns) used so far by the managed plugin's cgroup (named after the plugin id), or nothing.
plugin_cpu_ns() {
  local id cg
  id="$(docker plugin inspect -f '{{.Id}}' "$1" 2>/dev/null)" || return 0
  for cg in /sys/fs/cgroup/cpuacct/"$id" /sys/fs/cgroup/cpuacct/*/"$id" /sys/fs/cgroup/"$id" /sys/fs/cgroup/*/"$id"; do
    if [[ -r $cg/cpuacct.usage ]]; then cat "$cg/cpuacct.usage"; return 0; fi
    if [[ -r $cg/cpu.stat ]]; then awk '$1 == "usage_usec" { print $2 * 1000 }' "$cg/cpu.stat"; return 0; fi
  done
}
read -r -a plugins <<<"${PLUGINS:-csvol/local}"

# one VOLUME TAG ROUND: one timed run; appends "TAG ROUND t0 t1 label" to $work/runs.
one() {
  local label t0 t1
  label="phase-$RANDOM$RANDOM"
  t0=$(now_ns)
  docker run --rm --label "csvol-phase=$label" -v "$1:/d" "$image" true
  t1=$(now_ns)
  echo "$2 $3 $t0 $t1 $label" >>"$work/runs"
}

# dockerd keeps only its last 256 events, so they are streamed to a file while the runs go on.
docker events --format \
  '{{.TimeNano}}|{{.Type}}|{{.Action}}|{{.Actor.ID}}|{{index .Actor.Attributes "container"}}|{{index .Actor.Attributes "csvol-phase"}}' >"$work/events" &
events_pid=$!
sleep 0.5
n=${#vols[@]}
for v in "${vols[@]}"; do one "$v" warm 0; done
for p in "${plugins[@]}"; do echo "$p $(plugin_cpu_ns "$p")"; done >"$work/cpu0"
for ((r = 1; r <= rounds; r++)); do
  for ((k = 0; k < n; k++)); do
    v=${vols[(k + r) % n]}
    one "$v" "$v" "$r"
  done
  # CPU pressure (PSI "some avg10", % of the last 10 s in which runnable tasks waited for a CPU) after the round
  echo "$r $(awk '$1 == "some" { sub("avg10=", "", $2); print $2 }' /proc/pressure/cpu 2>/dev/null || echo -1)" >>"$work/psi"
done
for p in "${plugins[@]}"; do echo "$p $(plugin_cpu_ns "$p")"; done >"$work/cpu1"
sleep 0.5
kill "$events_pid"
wait "$events_pid" 2>/dev/null || true
events_pid=""

# Per run: the container id from its label, then each event's time for that container.
while read -r tag round t0 t1 label; do
  [[ $tag == warm ]] && continue
  id="$(awk -F'|' -v l="$label" '$2 == "container" && $3 == "create" && $6 == l { print $4 }' "$work/events")"
  [[ -n $id ]] || die "no create event for run $label"
  ev() { awk -F'|' -v id="$id" -v t="$1" -v a="$2" '$2 == t && $3 == a && ($4 == id || $5 == id) { print $1; exit }' "$work/events"; }
  create=$(ev container create) attach=$(ev container attach) mnt=$(ev volume mount) start=$(ev container start)
  die=$(ev container die) umnt=$(ev volume unmount) destroy=$(ev container destroy)
  # this run's "volume create" event: the last one before its container create
  vcreate="$(awk -F'|' -v c="$create" '$2 == "volume" && $3 == "create" && $1 <= c { v = $1 } END { print v }' "$work/events")"
  awk -v tag="$tag" -v round="$round" -v t0="$t0" -v t1="$t1" -v vc="$vcreate" -v cr="$create" -v at="$attach" -v mn="$mnt" \
    -v st="$start" -v di="$die" -v um="$umnt" -v de="$destroy" 'BEGIN {
      ms = 1e6
      printf "%s %d %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f %.2f\n", tag, round, (t1 - t0) / ms, (vc - t0) / ms, (cr - vc) / ms,
        (mn - at) / ms, (st - mn) / ms, (di - st) / ms, (um - di) / ms, (de - um) / ms, (t1 - de) / ms }' >>"$work/phases"
done <"$work/runs"

python3 - "$work/phases" "$work/psi" "${vols[@]}" <<'EOF'
import sys, statistics as st
path, psipath, vols = sys.argv[1], sys.argv[2], sys.argv[3:]
psi = {int(r): float(v) for r, v in (l.split() for l in open(psipath))}
names = "cli pre vol2create create2mnt mnt2start run die2umnt umnt2dstr post".split()
runs = {}
for line in open(path):
    f = line.split()
    runs[(f[0], int(f[1]))] = list(map(float, f[2:]))
rounds = sorted({r for _, r in runs})
print("medians (ms) over %d rounds; paired: median and mean of (volume - %s) per round, and in how many rounds it was larger" % (len(rounds), vols[-1]))
print("%-11s" % "phase" + "".join("%14s" % v[:14] for v in vols) + "".join("%26s" % ("paired " + v[:12]) for v in vols[:-1]))
ref = vols[-1]
for i, n in enumerate(names):
    row = "%-11s" % n
    for v in vols:
        row += "%14.2f" % st.median(runs[(v, r)][i] for r in rounds)
    for v in vols[:-1]:
        d = [runs[(v, r)][i] - runs[(ref, r)][i] for r in rounds]
        row += "%26s" % ("%+.2f / %+.2f  %d/%d" % (st.median(d), st.mean(d), sum(x > 0 for x in d), len(d)))
    print(row)
# The same paired cli difference in the rounds of lower and of higher CPU pressure (split at the median PSI).
cut = st.median(psi[r] for r in rounds)
for v in vols[:-1]:
    for name, sel in (("lower", [r for r in rounds if psi[r] <= cut]), ("higher", [r for r in rounds if psi[r] > cut])):
        if sel:
            d = [runs[(v, r)][0] - runs[(ref, r)][0] for r in sel]
            print("cli %s - %s, %s CPU pressure half (psi avg10 %.0f-%.0f%%, %d rounds): median %+.2f ms, mean %+.2f ms; %s median %.1f ms" % (
                v, ref, name, min(psi[r] for r in sel), max(psi[r] for r in sel), len(sel), st.median(d), st.mean(d), ref,
                st.median(runs[(ref, r)][0] for r in sel)))
EOF
for p in "${plugins[@]}"; do
  a="$(awk -v p="$p" '$1 == p { print $2 }' "$work/cpu0")" b="$(awk -v p="$p" '$1 == p { print $2 }' "$work/cpu1")"
  [[ -z $a || -z $b ]] || echo "plugin $p: $(awk -v a="$a" -v b="$b" -v n="$rounds" 'BEGIN { printf "%.2f", (b - a) / n / 1e6 }') ms CPU per round (all its volumes' runs in that round)"
done
echo "raw: volume round cli pre vol2create create2mnt mnt2start run die2umnt umnt2dstr post"
cat "$work/phases"
echo "psi per round:"
tr '\n' ' ' <"$work/psi"
echo
