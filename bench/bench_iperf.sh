#!/usr/bin/env bash
# Container-to-container TCP throughput: iperf3 between two nrun containers
# on one bridge network, against iperf3 between two namespaces the script
# makes itself, joined by a raw veth pair (the floor) and by two veth pairs
# on a bridge (nrun's topology without nrun). iperf3 is the host's binary,
# bind-mounted read-only into the containers with the libraries it loads
# (-v /usr:/usr:ro, and /usr/lib and /usr/lib64 at /lib and /lib64, where
# the loader and its symlink point: the busybox image has neither). The
# three are interleaved round by round; the median of each is reported.
# Traffic only flows between addresses inside namespaces made here. Runs in
# its own network + mount namespace and writes bench/out/iperf.md.
#
#   bench/bench_iperf.sh [--rounds N] [--time SECS] [--nrun PATH]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

rounds=3
secs=5
nrun="$repo/build/nrun"
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --time) secs=$2; shift 2 ;;
    --nrun) nrun=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench_iperf.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ "${NRUN_BENCH_INNER:-}" != 1 ]]; then
  [[ -x "$nrun" ]] || bash scripts/setup.sh >/dev/null
  ensure_packages iperf3
  # Everything below runs in a throwaway network + mount namespace.
  NRUN_BENCH_INNER=1 exec unshare --net --mount --propagation private -- \
    bash "$0" --rounds "$rounds" --time "$secs" --nrun "$nrun"
fi

iperf=$(command -v iperf3)
ip link set lo up
work=$(mktemp -d /tmp/nrun-bench-iperf.XXXXXX)
root="$work/root"
out="$repo/bench/out"
mkdir -p "$out"
mount_private_netns_dir  # `ip netns add` pins namespaces there (lib.sh)
server_pid=""
cleanup() {
  set +e
  [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null
  "$nrun" --root "$root" ps -aq 2>/dev/null | xargs -r "$nrun" --root "$root" rm -f >/dev/null 2>&1
  for ns in /run/netns/*; do [[ -e $ns ]] && ip netns del "${ns##*/}" 2>/dev/null; done
  release_netns_dir
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

n() { "$nrun" --root "$root" "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# Received bits per second from iperf3's JSON on stdin, in Gbit/s; fails
# on iperf3's error JSON (the server was not listening yet, say).
gbps() {
  python3 -c 'import json,sys
j = json.load(sys.stdin)
if "error" in j: sys.exit(j["error"])
print("%.3f" % (j["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
# client CMD...: runs an iperf3 client command until the server listens
# (it starts in the background), at most ~5 s of retries.
client() {
  local i json last=""
  for ((i = 0; i < 50; i++)); do
    json=$("$@" 2>/dev/null) || true
    if [[ -n $json ]] && gbps <<<"$json" 2>/dev/null; then return; fi
    last=$json
    sleep 0.1
  done
  echo "bench_iperf.sh: no result from: $* (last output: ${last:0:300})" >&2
  return 1
}

# The floor: a veth pair between two namespaces.
ip netns add va && ip netns add vb
ip link add veth0 netns va type veth peer name veth1 netns vb
ip -n va addr add 10.55.0.1/24 dev veth0 && ip -n va link set veth0 up && ip -n va link set lo up
ip -n vb addr add 10.55.0.2/24 dev veth1 && ip -n vb link set veth1 up && ip -n vb link set lo up

# The same topology as nrun's, made by hand: two namespaces on a bridge.
ip link add ibr0 type bridge && ip link set ibr0 up
for side in 1 2; do
  ip netns add "b$side"
  ip link add "ibv$side" type veth peer name eth0 netns "b$side"
  ip link set "ibv$side" master ibr0 up
  ip -n "b$side" addr add "10.56.0.$side/24" dev eth0 && ip -n "b$side" link set eth0 up && ip -n "b$side" link set lo up
done

# nrun: a user network and an iperf3 server container on it.
mounts=(-v /usr:/usr:ro -v /usr/lib:/lib:ro -v /usr/lib64:/lib64:ro)
n network create --subnet 10.57.0.0/24 iperfnet >/dev/null
n run -d --name srv --net iperfnet --ip 10.57.0.10 "${mounts[@]}" busybox "$iperf" -s >/dev/null

veth=() bridge=() nrun_=()
for ((r = 1; r <= rounds; r++)); do
  ip netns exec va "$iperf" -s -1 >/dev/null 2>&1 & server_pid=$!
  veth+=("$(client ip netns exec vb "$iperf" -c 10.55.0.1 -t "$secs" -J)")
  wait "$server_pid" || true; server_pid=""

  ip netns exec b1 "$iperf" -s -1 >/dev/null 2>&1 & server_pid=$!
  bridge+=("$(client ip netns exec b2 "$iperf" -c 10.56.0.1 -t "$secs" -J)")
  wait "$server_pid" || true; server_pid=""

  nrun_+=("$(client n run --rm --net iperfnet "${mounts[@]}" busybox "$iperf" -c 10.57.0.10 -t "$secs" -J)")
  echo "round $r: veth ${veth[-1]}, bridge ${bridge[-1]}, nrun ${nrun_[-1]} Gbit/s"
done

med() { printf '%s\n' "$@" | median; }
m_veth=$(med "${veth[@]}") m_bridge=$(med "${bridge[@]}") m_nrun=$(med "${nrun_[@]}")
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }

report="$out/iperf.md"
{
  echo "## iperf: container-to-container TCP throughput (bench/bench_iperf.sh)"
  echo
  echo "$(uname -r), $(nproc) CPUs, $rounds interleaved rounds of \`iperf3 -t $secs\` ($("$iperf" --version | head -1 | cut -d' ' -f1-2)), medians; $(date -u +%F)"
  echo
  echo "| path | Gbit/s | of raw veth |"
  echo "|:---|---:|---:|"
  echo "| raw veth pair between two namespaces | $m_veth | 100% |"
  echo "| two namespaces on a bridge (veth pairs made by ip) | $m_bridge | $(pct "$m_bridge" "$m_veth") |"
  echo "| two nrun containers on a user network | $m_nrun | $(pct "$m_nrun" "$m_veth") |"
  echo
  echo "Between containers a packet crosses two veth pairs and the bridge; the raw pair is one crossing."
  echo "The hand-made bridge row is that topology without nrun: the gap to it is what nrun itself costs."
  echo
  echo "Per round (veth / bridge / nrun): $(for ((i = 0; i < rounds; i++)); do printf '%s / %s / %s; ' "${veth[i]}" "${bridge[i]}" "${nrun_[i]}"; done)"
} >"$report"
cat "$report"
echo
write_section iperf "$report"
echo "bench_iperf.sh: wrote $report and its section of bench/RESULTS.md"
