#!/usr/bin/env bash
# Benchmark section 5, "Cloud mount", for both cloud-disk backends, one after the other: the binary csvol/ebs ships
# (scripts/publish.sh ebs) against the fake EC2 and IMDS, and the one csvol/azuredisk ships (scripts/publish.sh
# azuredisk) against the fake ARM (HTTPS, the run's CA) and Azure IMDS (managed identity token), all from
# tests/Csvol.FakeCloud, which `Csvol.Bench cloudmount --cloud ebs|azure` runs in its own process (attachments are real
# loop devices). Per volume: Create, Mount (attach + mkfs.ext4 + mount, + a tag), Unmount (detach), Mount again
# (attach + mount), Unmount, Remove; each Mount's wall time split into the fake's latency, mkfs.ext4 (first Mount only,
# timed separately on the same host) and csvol's overhead (the rest). No dockerd. Needs root (loop devices, mkfs, mount).
# Usage: bench/cloudmount.sh [--cloud ebs|azure] [OUT.jsonl]   (both clouds unless --cloud names one)
#   bench/run.sh passes OUT (and BENCH_TOOL); run alone, it publishes and builds what it needs and prints the rows.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VOLUMES=10            # measured volumes (after 1 unmeasured warm-up volume), each 1 GiB
SIZE_GIB=1
ATTACH_DELAY_MS=500   # the fake's attaching -> attached; EC2 takes seconds, a short one keeps the run short
DETACH_DELAY_MS=500
CREATE_DELAY_MS=200
OPERATION_DELAY_MS=500 # the fake ARM's operations (attach/detach = VM update, disk create/tag/delete); Azure takes seconds
WORK_PARENT=/var/lib/csvol-bench # on disk, as the managed plugin's state and the volumes' backing files would be
SECTION="5 cloud mount"

clouds=(ebs azure)
args=("$@")
if [[ ${1:-} == --cloud ]]; then
  [[ ${2:-} == ebs || ${2:-} == azure ]] || die "usage: $0 [--cloud ebs|azure] [RESULTS_FILE]"
  clouds=("$2")
  shift 2
fi
[[ $# -le 1 ]] || die "usage: $0 [--cloud ebs|azure] [RESULTS_FILE]   (JSON lines are appended to it)"
need_root "${args[@]}"
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
declare -A lines   # cloud -> the tool's JSON line

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

for cloud in "${clouds[@]}"; do
  case $cloud in
    ebs) scripts/publish.sh ebs ;;
    azure) scripts/publish.sh azuredisk ;;
  esac
done
if [[ -z ${BENCH_TOOL:-} ]]; then
  dotnet build bench/Csvol.Bench -c Release -nologo -v quiet >&2
  BENCH_TOOL="$CSVOL_REPO_ROOT/bench/Csvol.Bench/bin/Release/net10.0/Csvol.Bench"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# run_tool CLOUD BACKEND ARGS...: the tool against CLOUD's fakes, with BACKEND's own runtime settings (config.json as
# scripts/plugin-config.sh makes it; its paths, credentials and the fakes' URLs are the tool's); its line into lines[CLOUD].
run_tool() {
  local cloud=$1 backend=$2
  shift 2
  local plugin_env=()
  while IFS= read -r kv; do plugin_env+=(--env "$kv"); done < <(
    scripts/plugin-config.sh "$backend" |
      jq -r '.env[] | select(.value != null) | select(.name | test("^(CSVOL_|AWS_|AZURE_)") | not) | "\(.name)=\(.value)"')
  mkdir -p "$WORK_PARENT"
  "$BENCH_TOOL" cloudmount --cloud "$cloud" --bin "$CSVOL_PUBLISH_DIR/$backend/csvol" --volumes "$VOLUMES" --warmup 1 \
    --size "$SIZE_GIB" --work "$WORK_PARENT" "$@" "${plugin_env[@]}" >"$result" &
  tool_pid=$!
  wait "$tool_pid"
  tool_pid=""
  lines[$cloud]=$(cat "$result")
}

n=$VOLUMES
f=first_mount s=second_mount
row() { bench_row "$out" "$SECTION" "$@"; }

ebs_rows() {
  local r=${lines[ebs]}
  get() { jq -r "$1" <<<"$r"; }
  local setup="Csvol.Bench cloudmount --cloud ebs: artifacts/publish/ebs/csvol (scripts/publish.sh ebs) as a child process against the fake EC2 + IMDS in the tool's process (tests/Csvol.FakeCloud, real loop devices, attach ${ATTACH_DELAY_MS} ms, detach ${DETACH_DELAY_MS} ms), n=$n volumes of $SIZE_GIB GiB after 1 warm-up"
  local split="time from the Mount request to its answer, split: fake = union of the intervals in which the fake EC2 served one of the plugin's requests or the attachment went from AttachVolume's answer to attached (the configured delay + losetup)"
  row "first Mount (attach + mkfs.ext4 + mount), p50" ms "$(get .$f.total_ms.p50)" "" "" "" \
    "$setup; p90 $(get .$f.total_ms.p90) ms; first Mount of a blank volume: DescribeVolumes, DescribeInstances, AttachVolume, polls, blkid, wipefs, mkfs.ext4, mount, CreateTags"
  row "first Mount: fake EC2 latency, p50" ms "$(get .$f.fake_ms.p50)" "" "" "" \
    "$split; p90 $(get .$f.fake_ms.p90) ms; attach window p50 $(get .$f.attach_window_ms.p50) ms; EC2 requests per Mount p50 $(get .$f.requests.p50)"
  row "first Mount: mkfs.ext4 of $SIZE_GIB GiB (host tool, timed separately), p50" ms "$(get .$f.host_tools_ms.p50)" "" "" "" \
    "measured separately, not inside the plugin: the tool runs mkfs.ext4 -q -F (the plugin's arguments) on a fresh sparse $SIZE_GIB GiB loop device on the same file system after each volume, n=$n; p90 $(get .$f.host_tools_ms.p90) ms; same samples: blkid -p p50 $(get .host_tools.blkid_ms.p50) ms, wipefs p50 $(get .host_tools.wipefs_ms.p50) ms, mount+umount p50 $(get .host_tools.mount_umount_ms.p50) ms"
  row "first Mount: csvol overhead, p50" ms "$(get .$f.overhead_ms.p50)" "" "" "" \
    "per Mount: total - fake - median mkfs.ext4 above, n=$n; p90 $(get .$f.overhead_ms.p90) ms; of it, waiting for the next poll after attached p50 $(get .$f.poll_lag_ms.p50) ms, the rest (SDK, blkid/wipefs spawns, mount, state) p50 $(get .$f.overhead_less_poll_lag_ms.p50) ms"
  row "re-Mount of the formatted volume (attach + mount), p50" ms "$(get .$s.total_ms.p50)" "" "" "" \
    "$setup; p90 $(get .$s.total_ms.p90) ms; second Mount after Unmount detached it: attach, blkid, mount"
  row "re-Mount: fake EC2 latency, p50" ms "$(get .$s.fake_ms.p50)" "" "" "" \
    "$split; p90 $(get .$s.fake_ms.p90) ms; attach window p50 $(get .$s.attach_window_ms.p50) ms; EC2 requests per Mount p50 $(get .$s.requests.p50)"
  row "re-Mount: csvol overhead, p50" ms "$(get .$s.overhead_ms.p50)" "" "" "abs<=300" \
    "per Mount: total - fake, n=$n; p90 $(get .$s.overhead_ms.p90) ms. Target: csvol polls DescribeVolumes at 50 ms, then x1.5 up to 1 s, and between polls looks for the device's link every 20 ms, polling at once when it appears, plus <= 50 ms of its own work"
  row "re-Mount: csvol overhead, of which waiting for the next poll, p50" ms "$(get .$s.poll_lag_ms.p50)" "" "" "" \
    "from the fake's attached to the arrival of the plugin's next request, n=$n; p90 $(get .$s.poll_lag_ms.p90) ms; the rest of the overhead (SDK, blkid spawn, mount, state) p50 $(get .$s.overhead_less_poll_lag_ms.p50) ms, p90 $(get .$s.overhead_less_poll_lag_ms.p90) ms"
  row "Unmount (unmount + detach), p50" ms "$(get .unmount_ms.p50)" "" "" "" \
    "$setup; both Unmounts of each volume (2n=$((2 * n))), p90 $(get .unmount_ms.p90) ms; detach delay ${DETACH_DELAY_MS} ms"
}

azure_rows() {
  local r=${lines[azure]}
  get() { jq -r "$1" <<<"$r"; }
  local setup="Csvol.Bench cloudmount --cloud azure: artifacts/publish/azuredisk/csvol (scripts/publish.sh azuredisk) as a child process against the fake ARM (HTTPS, run CA pinned) + Azure IMDS (managed identity token) in the tool's process (tests/Csvol.FakeCloud, real loop devices, every operation ${OPERATION_DELAY_MS} ms), n=$n disks of $SIZE_GIB GiB after 1 warm-up"
  local split="time from the Mount request to its answer, split: fake = union of the intervals in which the fake ARM served one of the plugin's requests or an operation went from the PUT/PATCH/DELETE answer that started it to done (the configured delay, + losetup for the VM update that attaches)"
  local a="Azure disk"
  row "$a: first Mount (attach + mkfs.ext4 + mount + tag), p50" ms "$(get .$f.total_ms.p50)" "" "" "" \
    "$setup; p90 $(get .$f.total_ms.p90) ms; first Mount of a blank disk: GET disk, GET VM, PATCH VM (attach at a free LUN), polls (GET VM), device by LUN, blkid, wipefs, mkfs.ext4, mount, PATCH disk (formatted tag), polls"
  row "$a: first Mount: fake ARM latency, p50" ms "$(get .$f.fake_ms.p50)" "" "" "" \
    "$split; p90 $(get .$f.fake_ms.p90) ms; attach operation window p50 $(get .$f.attach_window_ms.p50) ms, tag operation window p50 $(get .$f.other_windows_ms.p50) ms; ARM requests per Mount p50 $(get .$f.requests.p50)"
  row "$a: first Mount: mkfs.ext4 of $SIZE_GIB GiB (host tool, timed separately), p50" ms "$(get .$f.host_tools_ms.p50)" "" "" "" \
    "measured separately in the Azure run, as for EBS (mkfs.ext4 -q -F on a fresh sparse $SIZE_GIB GiB loop device after each disk), n=$n; p90 $(get .$f.host_tools_ms.p90) ms; blkid -p p50 $(get .host_tools.blkid_ms.p50) ms, wipefs p50 $(get .host_tools.wipefs_ms.p50) ms, mount+umount p50 $(get .host_tools.mount_umount_ms.p50) ms"
  row "$a: first Mount: csvol overhead, p50" ms "$(get .$f.overhead_ms.p50)" "" "" "" \
    "per Mount: total - fake - median mkfs.ext4 above, n=$n; p90 $(get .$f.overhead_ms.p90) ms; of it, waiting for the next poll after each of the two operations was done p50 $(get .$f.poll_lag_ms.p50) ms (p90 $(get .$f.poll_lag_ms.p90)), the rest (SDK, device lookup, blkid/wipefs/blockdev spawns, mount, state) p50 $(get .$f.overhead_less_poll_lag_ms.p50) ms"
  row "$a: re-Mount of the formatted disk (attach + mount), p50" ms "$(get .$s.total_ms.p50)" "" "" "" \
    "$setup; p90 $(get .$s.total_ms.p90) ms; second Mount after Unmount detached it: attach, device by LUN, blkid, mount"
  row "$a: re-Mount: fake ARM latency, p50" ms "$(get .$s.fake_ms.p50)" "" "" "" \
    "$split; p90 $(get .$s.fake_ms.p90) ms; attach operation window p50 $(get .$s.attach_window_ms.p50) ms; ARM requests per Mount p50 $(get .$s.requests.p50)"
  row "$a: re-Mount: csvol overhead, p50" ms "$(get .$s.overhead_ms.p50)" "" "" "" \
    "per Mount: total - fake, n=$n; p90 $(get .$s.overhead_ms.p90) ms; csvol polls the operation (UpdateStatusAsync: a GET of the VM) after 100 ms, then x1.5 up to 2 s"
  row "$a: re-Mount: csvol overhead, of which waiting for the next poll, p50" ms "$(get .$s.poll_lag_ms.p50)" "" "" "" \
    "from the fake's operation done to the arrival of the plugin's next request, n=$n; p90 $(get .$s.poll_lag_ms.p90) ms; the rest of the overhead p50 $(get .$s.overhead_less_poll_lag_ms.p50) ms, p90 $(get .$s.overhead_less_poll_lag_ms.p90) ms"
  row "$a: Unmount (unmount + detach), p50" ms "$(get .unmount_ms.p50)" "" "" "" \
    "$setup; both Unmounts of each disk (2n=$((2 * n))), p90 $(get .unmount_ms.p90) ms; GET disk, GET VM, PATCH VM (toBeDetached), polls, GET disk until free; operation delay ${OPERATION_DELAY_MS} ms"
}

for cloud in "${clouds[@]}"; do
  case $cloud in
    ebs)
      say "section 5: $VOLUMES volumes of $SIZE_GIB GiB against the fake EC2 (attach ${ATTACH_DELAY_MS} ms, detach ${DETACH_DELAY_MS} ms)"
      run_tool ebs ebs --attach-delay-ms "$ATTACH_DELAY_MS" --detach-delay-ms "$DETACH_DELAY_MS" --create-delay-ms "$CREATE_DELAY_MS"
      ebs_rows
      ;;
    azure)
      say "section 5: $VOLUMES disks of $SIZE_GIB GiB against the fake ARM (every operation ${OPERATION_DELAY_MS} ms)"
      run_tool azure azuredisk --operation-delay-ms "$OPERATION_DELAY_MS"
      azure_rows
      ;;
  esac
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

if ((standalone)); then
  # Run alone: the rows and the tool's line go to bench/results/cloudmount-<UTC time>.json (and cloudmount-latest.json,
  # which latest.md points to when its section 5 comes from a run alone), and section 5's lines of
  # the Markdown table (as bench/report.sh writes them) to stdout, for pasting into latest.md.
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -z $(git status --porcelain -- src bench tests/Csvol.FakeCloud ':!bench/results' 2>/dev/null) ]] || commit="$commit+changes"
  saved="bench/results/cloudmount-$(date -u +%Y%m%dT%H%M%SZ).json"
  tools='{}'
  for cloud in "${clouds[@]}"; do tools=$(jq -c --arg c "$cloud" --argjson line "${lines[$cloud]}" '. + {($c): $line}' <<<"$tools"); done
  jq -s --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" --argjson tools "$tools" \
    --arg load "load average (1/5/15 min) at start $load_before, at end $load_after" \
    '{finished_at: $at, commit: $commit, run: "bench/cloudmount.sh alone", load: $load, tools: $tools, rows: .}' "$out" >"$saved"
  jq -r '
    def fmt: if . == null then "n/a" elif (. | fabs) >= 100 then (. | round | tostring)
             else ((. * 100 | round) / 100 | tostring) end;
    def target_text: if .target == null then ""
      else (.target[3:5] | sub("<="; "≤ ") | sub(">="; "≥ ")) + .target[5:] + " " + .unit end;
    def verdict: if .met == true then "met" elif .met == false then "**missed**" else "" end;
    "| \(.section) | \(.metric) | \(.unit) | \(.csvol | fmt) |  |  | \(target_text) | \(verdict) |"' "$out"
  cp "$saved" bench/results/cloudmount-latest.json
  say "rows and the tool's JSON lines: $saved (also cloudmount-latest.json); load average at start $load_before, at end $load_after"
fi
