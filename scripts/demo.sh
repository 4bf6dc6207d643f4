#!/usr/bin/env bash
# A short tour of nrun on the default busybox image, in a temporary --root
# that is removed at the end. Needs root. The tour runs in a network and
# mount namespace of its own, so the default bridge network it makes (bridge,
# nftables table, ip_forward) never touches the host's.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

if [[ "${NRUN_DEMO_INNER:-}" != 1 ]]; then
  bash scripts/setup.sh >/dev/null
  NRUN_DEMO_INNER=1 exec unshare --net --mount --propagation private -- bash "$0" "$@"
fi
ip link set lo up

root=$(mktemp -d /tmp/nrun-demo.XXXXXX)
nrun() { build/nrun --root "$root" "$@"; }
cleanup() {
  nrun ps -aq 2>/dev/null | xargs -r build/nrun --root "$root" rm -f >/dev/null 2>&1 || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

step() {
  printf '\n\033[1m== %s\033[0m\n' "$1"
  shift
  printf '$ nrun %s\n' "$*"
}

step "A one-off container: its own hostname, PID 1, and only its own processes" \
  run --rm busybox sh -c "'hostname; ps; cat /etc/os-release 2>/dev/null || uname -a'"
nrun run --rm busybox sh -c 'hostname; ps; cat /etc/os-release 2>/dev/null || uname -a'

step "The exit status is the container's" run --rm busybox sh -c "'exit 3'"
status=0
nrun run --rm busybox sh -c 'exit 3' || status=$?
echo "exit status: $status"

step "A detached container prints its id" \
  run -d --name demo busybox sh -c "'i=0; while true; do echo tick \$i; i=\$((i+1)); sleep 1; done'"
# shellcheck disable=SC2016  # expanded by the container's sh
nrun run -d --name demo busybox sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'

step "It is listed as running" ps
nrun ps

sleep 2
step "Its output so far" logs demo
nrun logs demo

step "Run another command inside it: same processes, hostname and network" \
  exec demo sh -c "'ps; hostname; ip -4 -o addr show'"
nrun exec demo sh -c 'ps; hostname; ip -4 -o addr show'

step "Its state (part of inspect's JSON)" inspect demo
if command -v jq >/dev/null; then
  nrun inspect demo | jq 'if type == "array" then .[0] else . end
    | {Id, Name, State: {Status: .State.Status, Pid: .State.Pid, ExitCode: .State.ExitCode}}'
else
  nrun inspect demo
fi

step "Stop it: SIGTERM, then SIGKILL after 1 s (sh as PID 1 ignores SIGTERM)" stop -t 1 demo
nrun stop -t 1 demo
nrun ps -a

step "Remove it" rm demo
nrun rm demo
nrun ps -a

step "A user network: a bridge, a subnet, addresses from IPAM" network create --subnet 10.20.0.0/24 demo-net
nrun network create --subnet 10.20.0.0/24 demo-net >/dev/null
nrun run -d --net demo-net --name server busybox sleep 1d >/dev/null
nrun network inspect demo-net | head -20

step "Containers on it reach each other by name" run --rm --net demo-net busybox ping -c1 server
nrun run --rm --net demo-net busybox ping -c1 -W2 server

step "exec joins the running container's namespaces" exec server ip -4 addr show eth0
nrun exec server ip -4 addr show eth0

nrun rm -f server >/dev/null
nrun network rm demo-net >/dev/null
