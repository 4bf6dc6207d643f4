#!/usr/bin/env bash
# nrun's per-container networking against its peers on the same machine in
# the same run: the CNI bridge plugin (containernetworking-plugins: bridge +
# host-local, ipMasq) and a shell script of `ip` and `iptables` commands.
# Each does, per container, a veth pair into a fresh netns, attached to a
# bridge, an address, a default route, masquerade, and then tears it down.
# nrun's cost is `run --rm --net bridge busybox true` minus `--net none` (as
# bench_net.sh measures it); the peers' is their ADD + DEL, the namespace
# itself made and removed outside the timed part (both nrun modes make one
# too). The four are interleaved round by round; medians are reported.
# Runs in its own network + mount namespace and writes bench/out/net_peers.md.
#
#   bench/bench_net_peers.sh [--runs N] [--nrun PATH]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

runs=30
nrun="$repo/build/nrun"
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --nrun) nrun=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench_net_peers.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ "${NRUN_BENCH_INNER:-}" != 1 ]]; then
  [[ -x "$nrun" ]] || bash scripts/setup.sh >/dev/null
  ensure_packages containernetworking-plugins iptables iproute2
  # Everything below runs in a throwaway network + mount namespace.
  NRUN_BENCH_INNER=1 exec unshare --net --mount --propagation private -- \
    bash "$0" --runs "$runs" --nrun "$nrun"
fi

cni_path=/usr/lib/cni
[[ -x $cni_path/bridge && -x $cni_path/host-local ]] || { echo "bench_net_peers.sh: no CNI plugins in $cni_path" >&2; exit 1; }

ip link set lo up
work=$(mktemp -d /tmp/nrun-bench-peers.XXXXXX)
root="$work/root"
out="$repo/bench/out"
mkdir -p "$out"
mount_private_netns_dir  # `ip netns add` pins namespaces there (lib.sh)
cleanup() {
  set +e
  "$nrun" --root "$root" ps -aq 2>/dev/null | xargs -r "$nrun" --root "$root" rm -f >/dev/null 2>&1
  for ns in /run/netns/*; do [[ -e $ns ]] && ip netns del "${ns##*/}" 2>/dev/null; done
  release_netns_dir
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

n() { "$nrun" --root "$root" "$@"; }
# Microseconds from bash itself (no fork per timestamp).
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

# --- CNI: bridge plugin with host-local IPAM and ipMasq (iptables-nft).
cni_conf=$(cat <<JSON
{"cniVersion": "1.0.0", "name": "nrunbench", "type": "bridge", "bridge": "cnibr0",
 "isGateway": true, "ipMasq": true,
 "ipam": {"type": "host-local", "subnet": "10.77.0.0/16", "routes": [{"dst": "0.0.0.0/0"}],
          "dataDir": "$work/cni-ipam"}}
JSON
)
cni() {  # cni ADD|DEL ID NETNS
  CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$3 CNI_IFNAME=eth0 CNI_PATH=$cni_path \
    "$cni_path/bridge" <<<"$cni_conf" >/dev/null
}

# --- The shell script: what a careful admin would type, per container.
ip link add shbr0 type bridge
ip addr add 10.66.0.1/16 dev shbr0
ip link set shbr0 up
echo 1 >/proc/sys/net/ipv4/ip_forward
sh_add() {  # sh_add INDEX NETNS
  local host=shv$1 addr=10.66.$(($1 / 250)).$(($1 % 250 + 2))
  ip link add "$host" type veth peer name eth0 netns "$2"
  ip link set "$host" master shbr0 up
  ip -n "$2" addr add "$addr/16" dev eth0
  ip -n "$2" link set eth0 up
  ip -n "$2" route add default via 10.66.0.1
  iptables -t nat -A POSTROUTING -s "$addr" ! -o shbr0 -j MASQUERADE
}
sh_del() {  # sh_del INDEX
  local host=shv$1 addr=10.66.$(($1 / 250)).$(($1 % 250 + 2))
  iptables -t nat -D POSTROUTING -s "$addr" ! -o shbr0 -j MASQUERADE
  ip link del "$host"
}

# Warm up every path once: the image, nrun's default network and table,
# the CNI bridge and its chains, the script's bridge.
n run --rm busybox true
n run --rm --net none busybox true
ip netns add warm
cni ADD warm warm && cni DEL warm warm
sh_add 0 warm && sh_del 0
ip netns del warm

none=() bridge=() cadd=() cdel=() sadd=() sdel=()
for ((i = 1; i <= runs; i++)); do
  # In pairs, the second timed, as bench_net.sh does (each mode then pays
  # for the kernel's teardown of its own previous container).
  n run --rm --net none busybox true
  t0=$(now_us); n run --rm --net none busybox true; t1=$(now_us)
  n run --rm --net bridge busybox true
  t2=$(now_us); n run --rm --net bridge busybox true; t3=$(now_us)
  none+=($((t1 - t0))) bridge+=($((t3 - t2)))

  ip netns add "c$i"
  t0=$(now_us); cni ADD "c$i" "c$i"; t1=$(now_us); cni DEL "c$i" "c$i"; t2=$(now_us)
  ip netns del "c$i"
  cadd+=($((t1 - t0))) cdel+=($((t2 - t1)))

  ip netns add "s$i"
  t0=$(now_us); sh_add "$i" "s$i"; t1=$(now_us); sh_del "$i"; t2=$(now_us)
  ip netns del "s$i"
  sadd+=($((t1 - t0))) sdel+=($((t2 - t1)))
done

med() { printf '%s\n' "$@" | median; }
m_none=$(med "${none[@]}") m_bridge=$(med "${bridge[@]}")
m_cadd=$(med "${cadd[@]}") m_cdel=$(med "${cdel[@]}")
m_sadd=$(med "${sadd[@]}") m_sdel=$(med "${sdel[@]}")
# Sums of medians: each part is a median over the same interleaved rounds.
m_nrun=$((m_bridge - m_none)) m_cni=$((m_cadd + m_cdel)) m_sh=$((m_sadd + m_sdel))
ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }
x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

report="$out/net_peers.md"
{
  echo "## net_peers: networking per container, nrun against CNI and ip/iptables (bench/bench_net_peers.sh)"
  echo
  echo "$(uname -r), $(nproc) CPUs, $runs interleaved rounds, medians in ms; $(date -u +%F);"
  echo "containernetworking-plugins $(dpkg-query -W -f='${Version}' containernetworking-plugins), $(iptables -V)."
  echo
  echo "| who | set-up | teardown | total | vs nrun |"
  echo "|:---|---:|---:|---:|---:|"
  echo "| nrun (\`run --rm --net bridge\` minus \`--net none\`: $(ms "$m_bridge") - $(ms "$m_none")) | | | $(ms "$m_nrun") | 1 |"
  echo "| CNI bridge + host-local, ipMasq | $(ms "$m_cadd") | $(ms "$m_cdel") | $(ms "$m_cni") | $(x "$m_cni" "$m_nrun") |"
  echo "| shell: ip + iptables | $(ms "$m_sadd") | $(ms "$m_sdel") | $(ms "$m_sh") | $(x "$m_sh" "$m_nrun") |"
  echo
  echo "nrun's number is everything networking adds to a container's whole life (veth, address, route,"
  echo "nft, IPAM file, hosts and resolv.conf and their bind mounts, teardown); the peers' are their own"
  echo "commands alone. In teardown CNI's DEL and the script delete the veth themselves; nrun leaves a"
  echo "dead container's pair to the kernel's cleanup of its namespace (and pays for it in the next"
  echo "container's start, which these pairs of runs include). Set-up alone against nrun's whole cost:"
  echo "CNI's ADD $(x "$m_cadd" "$m_nrun")x, the script's $(x "$m_sadd" "$m_nrun")x."
} >"$report"
cat "$report"
echo
write_section net_peers "$report"
echo "bench_net_peers.sh: wrote $report and its section of bench/RESULTS.md"
