#!/usr/bin/env bash
# Lab deploy and destroy times: a generated lab of N nodes on one bridge
# (N = 10, 50, 100) and a chain of 20 nodes joined by point-to-point links.
# Per-node cost must stay flat as labs grow; the target is a 50-node lab up
# in under 5 s on this 2-core machine. Runs in its own network + mount
# namespace and writes bench/out/lab.md.
#
#   bench/bench_lab.sh [--runs N] [--sizes "10 50 100"] [--chain 20] [--nrun PATH]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

runs=3
sizes="10 50 100"
chain=20
nrun="$repo/build/nrun"
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --chain) chain=$2; shift 2 ;;
    --nrun) nrun=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench_lab.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ "${NRUN_BENCH_INNER:-}" != 1 ]]; then
  [[ -x "$nrun" ]] || bash scripts/setup.sh >/dev/null
  # Everything below runs in a throwaway network + mount namespace.
  NRUN_BENCH_INNER=1 exec unshare --net --mount --propagation private -- \
    bash "$0" --runs "$runs" --sizes "$sizes" --chain "$chain" --nrun "$nrun"
fi

ip link set lo up
work=$(mktemp -d /tmp/nrun-bench-lab.XXXXXX)
root="$work/root"
out="$repo/bench/out"
mkdir -p "$out"
# /run/netns is made by the first deploy (a mount of this namespace only),
# but the directory itself is on the host's /run: take it back if it was ours.
remember_netns_dir
cleanup() {
  "$nrun" --root "$root" lab ls -q 2>/dev/null | xargs -r "$nrun" --root "$root" lab destroy >/dev/null 2>&1 || true
  rm -rf --one-file-system "$work"
  release_netns_dir
}
trap cleanup EXIT

n() { "$nrun" --root "$root" "$@"; }
now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

# star N FILE: N nodes on one /24 bridge network.
star() {
  python3 - "$1" "$2" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
lab = {"name": f"star{n}", "networks": {"lan": {"subnet": "10.60.0.0/24"}},
       "nodes": {f"n{i}": {"networks": {"lan": {}}} for i in range(n)}}
json.dump(lab, open(path, "w"), indent=1)
PY
}
# line N FILE: N nodes in a chain of point-to-point links, with addresses.
line() {
  python3 - "$1" "$2" <<'PY'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
links = [{"endpoints": [f"n{i}:right", f"n{i+1}:left"], "ips": [f"10.61.{i}.1/30", f"10.61.{i}.2/30"]}
         for i in range(n - 1)]
lab = {"name": f"chain{n}", "nodes": {f"n{i}": {} for i in range(n)}, "links": links}
json.dump(lab, open(path, "w"), indent=1)
PY
}

# Warm up: the default image.
n run --rm --net none busybox true

report="$out/lab.md"
{
  echo "## lab: deploy and destroy (bench/bench_lab.sh)"
  echo
  echo "$(uname -r), $(nproc) CPUs, $runs runs per lab, medians in ms; $(date -u +%F)"
  echo
  echo "| lab | nodes | deploy | per node | destroy | per node |"
  echo "|---|---:|---:|---:|---:|---:|"
} >"$report"

measure() {  # measure KIND NODES FILE
  local kind=$1 nodes=$2 file=$3 name up=() down=()
  name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$file")
  for ((i = 0; i < runs; i++)); do
    t0=$(now_us); n lab deploy "$file" >/dev/null; t1=$(now_us)
    n lab destroy "$name" >/dev/null; t2=$(now_us)
    up+=($((t1 - t0)))
    down+=($((t2 - t1)))
  done
  local m_up m_down
  m_up=$(printf '%s\n' "${up[@]}" | median)
  m_down=$(printf '%s\n' "${down[@]}" | median)
  awk -v k="$kind" -v n="$nodes" -v a="$m_up" -v b="$m_down" \
    'BEGIN {printf "| %s | %d | %.0f | %.1f | %.0f | %.1f |\n", k, n, a / 1000, a / 1000 / n, b / 1000, b / 1000 / n}' |
    tee -a "$report"
}

for size in $sizes; do
  star "$size" "$work/star$size.json"
  measure "one bridge" "$size" "$work/star$size.json"
done
line "$chain" "$work/chain$chain.json"
measure "chain of links" "$chain" "$work/chain$chain.json"
echo
write_section lab "$report"
echo "bench_lab.sh: wrote $report and its section of bench/RESULTS.md"
