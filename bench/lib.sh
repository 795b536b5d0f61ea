# Shared helpers for the benchmark sections (bench/*.sh). Sourced, not run.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

# bench_row FILE SECTION METRIC UNIT CSVOL YARDSTICK YARDSTICK_NAME TARGET HOW
#   Appends one result row (a JSON object per line) to FILE.
#   CSVOL / YARDSTICK: numbers, or "" when not measured / not available.
#   TARGET: "" (no target), "<=X" (csvol/yardstick must be at most X) or ">=X" (at least X);
#           a target with a leading "abs" compares csvol itself, e.g. "abs<=20" for "at most 20 UNIT".
#   HOW: which tool and method produced the figures (e.g. "plugbench load, n=20000, c=1").
bench_row() {
  local file=$1 section=$2 metric=$3 unit=$4 csvol=$5 yard=$6 yard_name=$7 target=$8 how=$9
  jq -cn --arg section "$section" --arg metric "$metric" --arg unit "$unit" \
    --arg csvol "$csvol" --arg yard "$yard" --arg yard_name "$yard_name" --arg target "$target" --arg how "$how" '
    def num: if . == "" then null else tonumber end;
    ($csvol | num) as $c | ($yard | num) as $y |
    (if $c != null and $y != null and $y != 0 then ($c / $y * 1000 | round / 1000) else null end) as $ratio |
    (if $target == "" then null
     elif ($target | startswith("abs")) then
       ($target[3:] | .[0:2]) as $op | ($target[5:] | tonumber) as $lim |
       if $c == null then null elif $op == "<=" then $c <= $lim else $c >= $lim end
     else
       ($target[0:2]) as $op | ($target[2:] | tonumber) as $lim |
       if $ratio == null then null elif $op == "<=" then $ratio <= $lim else $ratio >= $lim end
     end) as $met |
    {section: $section, metric: $metric, unit: $unit, csvol: $c, yardstick: $y,
     yardstick_name: (if $yard_name == "" then null else $yard_name end),
     ratio: $ratio, target: (if $target == "" then null else $target end), met: $met, how: $how}' >>"$file"
}

# median: reads numbers, one per line, prints their median.
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# now_ns: monotonic-enough wall clock in nanoseconds for timing whole commands.
now_ns() { date +%s%N; }

# bench_need_plugin PLUGIN: the dockerd at DOCKER_HOST answers and has PLUGIN enabled, or the section stops saying how to get there.
bench_need_plugin() {
  local plugin=$1
  need_cmd docker docker.io
  need_cmd jq jq
  [[ -n ${DOCKER_HOST:-} ]] || die "DOCKER_HOST is not set; bench/run.sh points it at the private dockerd (scripts/dockerd.sh env)"
  docker_answers || die "no Docker daemon answers at DOCKER_HOST=$DOCKER_HOST; start it with scripts/dockerd.sh start"
  [[ $(docker plugin inspect -f '{{.Enabled}}' "$plugin" 2>/dev/null) == true ]] ||
    die "plugin $plugin is not installed and enabled at $DOCKER_HOST; run scripts/build-plugin.sh local, then docker plugin enable $plugin"
}
