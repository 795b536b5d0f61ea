#!/usr/bin/env bash
# Turns the rows of one make bench run into bench/results/<stamp>.json, latest.json and latest.md, and prints the table.
# Usage: bench/report.sh ROWS.jsonl STAMP STARTED_AT DURATION_S
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rows=${1:?usage: $0 ROWS.jsonl STAMP STARTED_AT DURATION_S}
stamp=${2:?} started_at=${3:?} duration=${4:?}
results="$CSVOL_REPO_ROOT/bench/results"
mkdir -p "$results"

version_of() { "$@" 2>/dev/null | head -1 || true; }
commit="$(git -C "$CSVOL_REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z $(git -C "$CSVOL_REPO_ROOT" status --porcelain -- src bench config.json 2>/dev/null) ]] || commit="$commit+changes"

machine=$(jq -n \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
  --arg cores "$(nproc)" \
  --arg ram "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
  --arg os "$(. /etc/os-release && echo "$PRETTY_NAME")" \
  --arg kernel "$(uname -r)" \
  --arg fs "$(findmnt -n -o FSTYPE -T /var/lib)" \
  --arg dotnet "$(version_of dotnet --version)" \
  --arg dockerd "$(version_of docker version --format '{{.Server.Version}}')" \
  --arg go "$(version_of go version)" \
  --arg fio "$(version_of fio --version)" \
  --arg binary "$(stat -c %s "$CSVOL_PUBLISH_DIR/local/csvol" 2>/dev/null || echo 0)" \
  '{cpu: $cpu, cores: ($cores | tonumber), ram_gib: ($ram | tonumber), os: $os, kernel: $kernel, state_fs: $fs,
    dotnet_sdk: $dotnet, dockerd: $dockerd, go: $go, fio: $fio, csvol_binary_bytes: ($binary | tonumber)}')

jq -s --arg started "$started_at" --arg duration "$duration" --arg commit "$commit" --argjson machine "$machine" \
  --slurpfile why "$CSVOL_REPO_ROOT/bench/why.json" '
  {started_at: $started, duration_s: ($duration | tonumber), commit: $commit, machine: $machine,
   yardstick_go_stub: (any(.[]; .yardstick_name == "Go stub" and .yardstick != null)),
   rows: .,
   missed: [ .[] | select(.met == false) | . as $r |
     {metric, ratio, csvol, target,
      why: ([$why[0] | to_entries[] | select(.key as $k | $r.metric | contains($k)) | .value] | first // "not analysed yet")} ]}
' "$rows" >"$results/$stamp.json"
cp "$results/$stamp.json" "$results/latest.json"

# The Markdown table: one line per row, grouped by section.
jq -r '
  def fmt: if . == null then "n/a" elif (. | fabs) >= 100 then (. | round | tostring)
           else ((. * 100 | round) / 100 | tostring) end;
  def target_text($r): if $r.target == null then ""
    elif ($r.target | startswith("abs")) then ($r.target[3:5] | sub("<="; "≤ ") | sub(">="; "≥ ")) + $r.target[5:] + " " + $r.unit
    else ($r.target[0:2] | sub("<="; "≤ ") | sub(">="; "≥ ")) + $r.target[2:] + "×" end;
  def verdict: if .met == true then "met" elif .met == false then "**missed**" else "" end;
  "Measured \(.started_at) in \(.duration_s) s, commit \(.commit).",
  "Machine: \(.machine.cpu), \(.machine.cores) cores, \(.machine.ram_gib) GiB RAM; \(.machine.os), kernel \(.machine.kernel); state on \(.machine.state_fs); dockerd \(.machine.dockerd); .NET SDK \(.machine.dotnet_sdk); \(.machine.go // "no Go"); \(.machine.fio).",
  "",
  "| section | metric | unit | csvol | yardstick | ratio | target | |",
  "|---|---|---|---:|---:|---:|---|---|",
  (.rows[] | . as $r |
    "| \(.section) | \(.metric) | \(.unit) | \(.csvol | fmt) | " +
    (if .yardstick == null then (if .yardstick_name == null then "" else "n/a" end)
     else "\(.yardstick | fmt) \(.yardstick_name)" end) +
    " | \(if .ratio == null then "" else "\(.ratio)×" end) | \(target_text($r)) | \(verdict) |"),
  "",
  (if (.missed | length) == 0 then "Every target with a measured figure was met."
   else "Missed targets:", (.missed[] | "- \(.metric): \(if .ratio != null then "\(.ratio)× against \(.target[2:])×" else "\(.csvol) against \(.target)" end). \(.why)") end),
  "",
  "How each figure was measured (client, runs) is in the JSON next to this file, field \"how\" of each row."
' "$results/$stamp.json" >"$results/latest.md"
cp "$results/latest.md" "$results/$stamp.md"
cat "$results/latest.md"
say "results: bench/results/$stamp.json (also latest.json, latest.md)"
