#!/usr/bin/env bash
# Benchmark section 5, "Cloud mount": the EBS binary csvol/ebs ships (scripts/publish.sh ebs) against the fake EC2 and
# IMDS of tests/Csvol.FakeCloud, which `Csvol.Bench cloudmount` runs in its own process (attachments are real loop
# devices). Per volume: Create, Mount (attach + mkfs.ext4 + mount), Unmount (detach), Mount again (attach + mount),
# Unmount, Remove; each Mount's wall time split into the fake's latency, mkfs.ext4 (first Mount only, timed separately
# on the same host) and csvol's overhead (the rest). No dockerd. Needs root (loop devices, mkfs, mount).
# Usage: bench/cloudmount.sh [OUT.jsonl]
#   bench/run.sh passes OUT (and BENCH_TOOL); run alone, it publishes and builds what it needs and prints the rows.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VOLUMES=10            # measured volumes (after 1 unmeasured warm-up volume), each 1 GiB
SIZE_GIB=1
ATTACH_DELAY_MS=500   # the fake's attaching -> attached; EC2 takes seconds, a short one keeps the run short
DETACH_DELAY_MS=500
CREATE_DELAY_MS=200
WORK_PARENT=/var/lib/csvol-bench # on disk, as the managed plugin's state and the volumes' backing files would be
SECTION="5 cloud mount"

[[ $# -le 1 ]] || die "usage: $0 [RESULTS_FILE]   (JSON lines are appended to it)"
need_root "$@"
need_cmd jq jq
need_cmd losetup util-linux
need_cmd blkid util-linux
need_cmd wipefs util-linux
need_cmd mkfs.ext4 e2fsprogs
cd "$CSVOL_REPO_ROOT"

out=${1:-}
standalone=0
if [[ -z $out ]]; then
  standalone=1
  out=$(mktemp)
fi
result=$(mktemp) # the tool's JSON line

tool_pid=""
cleanup() {
  local rc=$?
  if [[ -n $tool_pid ]] && kill -0 "$tool_pid" 2>/dev/null; then
    kill -TERM "$tool_pid" 2>/dev/null || true # it releases its mounts and loop devices on SIGTERM
    wait "$tool_pid" 2>/dev/null || true
  fi
  # Belt and braces: whatever the tool left in its own directory (it names it after its pid).
  if [[ -n $tool_pid ]]; then
    local dir="$WORK_PARENT/csvol-cloudmount-$tool_pid"
    findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    losetup --list --noheadings --output NAME,BACK-FILE | awk -v d="$dir/" 'index($2, d) == 1 { print $1 }' |
      xargs -r -n1 losetup --detach 2>/dev/null || true
    rm -rf "$dir"
  fi
  rm -f "$result"
  ((standalone)) && rm -f "$out"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/publish.sh ebs
ebs_bin="$CSVOL_PUBLISH_DIR/ebs/csvol"
if [[ -z ${BENCH_TOOL:-} ]]; then
  dotnet build bench/Csvol.Bench -c Release -nologo -v quiet >&2
  BENCH_TOOL="$CSVOL_REPO_ROOT/bench/Csvol.Bench/bin/Release/net10.0/Csvol.Bench"
fi

# The plugin runs with csvol/ebs's own runtime settings (config.json); its paths and the fakes' URLs are the tool's.
plugin_env=()
while IFS= read -r kv; do plugin_env+=(--env "$kv"); done < <(
  scripts/plugin-config.sh ebs | jq -r '.env[] | select(.value != null) | select(.name | test("^(CSVOL_|AWS_)") | not) | "\(.name)=\(.value)"')

say "section 5: $VOLUMES volumes of $SIZE_GIB GiB against the fake EC2 (attach ${ATTACH_DELAY_MS} ms, detach ${DETACH_DELAY_MS} ms)"
mkdir -p "$WORK_PARENT"
"$BENCH_TOOL" cloudmount --bin "$ebs_bin" --volumes "$VOLUMES" --warmup 1 --size "$SIZE_GIB" \
  --attach-delay-ms "$ATTACH_DELAY_MS" --detach-delay-ms "$DETACH_DELAY_MS" --create-delay-ms "$CREATE_DELAY_MS" \
  --work "$WORK_PARENT" "${plugin_env[@]}" >"$result" &
tool_pid=$!
wait "$tool_pid"
tool_pid=""
r=$(cat "$result")
get() { jq -r "$1" <<<"$r"; }

n=$VOLUMES
setup="Csvol.Bench cloudmount: artifacts/publish/ebs/csvol (scripts/publish.sh ebs) as a child process against the fake EC2 + IMDS in the tool's process (tests/Csvol.FakeCloud, real loop devices, attach ${ATTACH_DELAY_MS} ms, detach ${DETACH_DELAY_MS} ms), n=$n volumes of $SIZE_GIB GiB after 1 warm-up"
split="time from the Mount request to its answer, split: fake = union of the intervals in which the fake EC2 served one of the plugin's requests or the attachment went from AttachVolume's answer to attached (the configured delay + losetup)"
f=first_mount s=second_mount
row() { bench_row "$out" "$SECTION" "$@"; }

row "first Mount (attach + mkfs.ext4 + mount), p50" ms "$(get .$f.total_ms.p50)" "" "" "" \
  "$setup; p90 $(get .$f.total_ms.p90) ms; first Mount of a blank volume: DescribeVolumes, DescribeInstances, AttachVolume, polls, blkid, wipefs, mkfs.ext4, mount, CreateTags"
row "first Mount: fake EC2 latency, p50" ms "$(get .$f.fake_ms.p50)" "" "" "" \
  "$split; p90 $(get .$f.fake_ms.p90) ms; attach window p50 $(get .$f.attach_window_ms.p50) ms; EC2 requests per Mount p50 $(get .$f.ec2_requests.p50)"
row "first Mount: mkfs.ext4 of $SIZE_GIB GiB (host tool, timed separately), p50" ms "$(get .$f.host_tools_ms.p50)" "" "" "" \
  "measured separately, not inside the plugin: the tool runs mkfs.ext4 -q -F (the plugin's arguments) on a fresh sparse $SIZE_GIB GiB loop device on the same file system after each volume, n=$n; p90 $(get .$f.host_tools_ms.p90) ms; same samples: blkid -p p50 $(get .host_tools.blkid_ms.p50) ms, wipefs p50 $(get .host_tools.wipefs_ms.p50) ms, mount+umount p50 $(get .host_tools.mount_umount_ms.p50) ms"
row "first Mount: csvol overhead, p50" ms "$(get .$f.overhead_ms.p50)" "" "" "" \
  "per Mount: total - fake - median mkfs.ext4 above, n=$n; p90 $(get .$f.overhead_ms.p90) ms; of it, waiting for the next poll after attached p50 $(get .$f.poll_lag_ms.p50) ms, the rest (SDK, blkid/wipefs spawns, mount, state) p50 $(get .$f.overhead_less_poll_lag_ms.p50) ms"
row "re-Mount of the formatted volume (attach + mount), p50" ms "$(get .$s.total_ms.p50)" "" "" "" \
  "$setup; p90 $(get .$s.total_ms.p90) ms; second Mount after Unmount detached it: attach, blkid, mount"
row "re-Mount: fake EC2 latency, p50" ms "$(get .$s.fake_ms.p50)" "" "" "" \
  "$split; p90 $(get .$s.fake_ms.p90) ms; attach window p50 $(get .$s.attach_window_ms.p50) ms; EC2 requests per Mount p50 $(get .$s.ec2_requests.p50)"
row "re-Mount: csvol overhead, p50" ms "$(get .$s.overhead_ms.p50)" "" "" "abs<=300" \
  "per Mount: total - fake, n=$n; p90 $(get .$s.overhead_ms.p90) ms. Target: csvol polls DescribeVolumes at 50 ms, then x1.5 up to 1 s, which at a ${ATTACH_DELAY_MS} ms attach can leave up to ~250 ms between attached and the next look, plus <= 50 ms of its own work"
row "re-Mount: csvol overhead, of which waiting for the next poll, p50" ms "$(get .$s.poll_lag_ms.p50)" "" "" "" \
  "from the fake's attached to the arrival of the plugin's next DescribeVolumes, n=$n; p90 $(get .$s.poll_lag_ms.p90) ms; the rest of the overhead (SDK, blkid spawn, mount, state) p50 $(get .$s.overhead_less_poll_lag_ms.p50) ms, p90 $(get .$s.overhead_less_poll_lag_ms.p90) ms"
row "Unmount (unmount + detach), p50" ms "$(get .unmount_ms.p50)" "" "" "" \
  "$setup; both Unmounts of each volume (2n=$((2 * n))), p90 $(get .unmount_ms.p90) ms; detach delay ${DETACH_DELAY_MS} ms"

if ((standalone)); then
  # Run alone: the rows and the tool's line go to bench/results/cloudmount-<UTC time>.json (and cloudmount-latest.json,
  # which latest.md points to when its section 5 comes from a run alone), and section 5's lines of
  # the Markdown table (as bench/report.sh writes them) to stdout, for pasting into latest.md.
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -z $(git status --porcelain -- src bench tests/Csvol.FakeCloud ':!bench/results' 2>/dev/null) ]] || commit="$commit+changes"
  saved="bench/results/cloudmount-$(date -u +%Y%m%dT%H%M%SZ).json"
  jq -s --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" --argjson tool "$r" \
    '{finished_at: $at, commit: $commit, run: "bench/cloudmount.sh alone", tool: $tool, rows: .}' "$out" >"$saved"
  jq -r '
    def fmt: if . == null then "n/a" elif (. | fabs) >= 100 then (. | round | tostring)
             else ((. * 100 | round) / 100 | tostring) end;
    def target_text: if .target == null then ""
      else (.target[3:5] | sub("<="; "≤ ") | sub(">="; "≥ ")) + .target[5:] + " " + .unit end;
    def verdict: if .met == true then "met" elif .met == false then "**missed**" else "" end;
    "| \(.section) | \(.metric) | \(.unit) | \(.csvol | fmt) |  |  | \(target_text) | \(verdict) |"' "$out"
  cp "$saved" bench/results/cloudmount-latest.json
  say "rows and the tool's JSON line: $saved (also cloudmount-latest.json)"
fi
