#!/usr/bin/env bash
# The cost of networking per container: `nrun run --rm --net bridge busybox
# true` minus the same with `--net none`, measured with N = 0, 10, 50, 100
# containers already on the bridge (it must stay flat). The two modes are
# interleaved in pairs so that load on the machine hits both alike, and the
# second run of each pair is timed (see the loop); the median of each is
# reported. Runs in its own network + mount namespace and
# writes bench/out/net.md.
#
#   bench/bench_net.sh [--runs N] [--counts "0 10 50 100"] [--nrun PATH] [--baseline PATH]
#
# --baseline: another nrun binary (an older build, say) timed the same way
# in the same rounds on the same root, for a before/after under equal load.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

runs=30
counts="0 10 50 100"
nrun="$repo/build/nrun"
baseline=""
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --counts) counts=$2; shift 2 ;;
    --nrun) nrun=$(readlink -f "$2"); shift 2 ;;
    --baseline) baseline=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench_net.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ "${NRUN_BENCH_INNER:-}" != 1 ]]; then
  [[ -x "$nrun" ]] || bash scripts/setup.sh >/dev/null
  # Everything below runs in a throwaway network + mount namespace.
  NRUN_BENCH_INNER=1 exec unshare --net --mount --propagation private -- \
    bash "$0" --runs "$runs" --counts "$counts" --nrun "$nrun" ${baseline:+--baseline "$baseline"}
fi

ip link set lo up
work=$(mktemp -d /tmp/nrun-bench-net.XXXXXX)
root="$work/root"
out="$repo/bench/out"
mkdir -p "$out"
cleanup() {
  "$nrun" --root "$root" ps -aq 2>/dev/null | xargs -r "$nrun" --root "$root" rm -f >/dev/null 2>&1 || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

n() { "$nrun" --root "$root" "$@"; }
# Microseconds from bash itself (no fork per timestamp).
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
# pair BINARY MODE: two runs of MODE, the second timed into $took.
pair() {
  "$1" --root "$root" run --rm --net "$2" busybox true
  local t0; t0=$(now_us)
  "$1" --root "$root" run --rm --net "$2" busybox true
  took=$(($(now_us) - t0))
}
# cell LABEL "NONE..." "BRIDGE...": table cells of medians and their difference.
cell() {
  local a b
  a=$(printf '%s\n' $2 | median) b=$(printf '%s\n' $3 | median)
  awk -v n="$1" -v a="$a" -v b="$b" 'BEGIN {printf "%s %.1f | %.1f | %.1f |", (n == "" ? "" : "| " n " |"), a / 1000, b / 1000, (b - a) / 1000}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

# Warm up: the default image, the default network, the nft table.
n run --rm busybox true
n run --rm --net none busybox true
[[ -z $baseline ]] || "$baseline" --root "$root" run --rm busybox true

report="$out/net.md"
{
  echo "## net: networking cost per container (bench/bench_net.sh)"
  echo
  echo "$(uname -r), $(nproc) CPUs, $runs runs per cell, medians in ms; $(date -u +%F)"
  [[ -z $baseline ]] || echo "(baseline: \`$baseline\`, timed in the same rounds)"
  echo
  if [[ -n $baseline ]]; then
    echo "| containers on the bridge | --net none | --net bridge | networking | baseline: none | bridge | networking |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
  else
    echo "| containers on the bridge | --net none | --net bridge | networking |"
    echo "|---:|---:|---:|---:|"
  fi
} >"$report"

have=0
for want in $counts; do
  while ((have < want)); do
    n run -d busybox sleep 3600 >/dev/null
    have=$((have + 1))
  done
  none=() bridge=() b_none=() b_bridge=()
  for ((i = 0; i < runs; i++)); do
    # The kernel tears a dead container's namespace down after nrun is
    # done (its veth included, under the RTNL lock), and that work delays
    # whichever container starts next. Timing the second of two runs of
    # one mode charges each mode its own teardown; timing none, bridge,
    # none, ... would charge the bridge's to --net none.
    pair "$nrun" none; none+=("$took")
    pair "$nrun" bridge; bridge+=("$took")
    [[ -z $baseline ]] && continue
    pair "$baseline" none; b_none+=("$took")
    pair "$baseline" bridge; b_bridge+=("$took")
  done
  line=$(cell "$have" "${none[*]}" "${bridge[*]}")
  [[ -z $baseline ]] || line+=$(cell "" "${b_none[*]}" "${b_bridge[*]}")
  echo "$line" | tee -a "$report"
done
echo
write_section net "$report"
echo "bench_net.sh: wrote $report and its section of bench/RESULTS.md"
