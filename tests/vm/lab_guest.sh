#!/bin/sh
# Runs inside the VM of tests/vm/lab_netem.sh on a kernel with sch_netem:
# a lab's impairments measured. Prints "NRUN-VM: PASS" or "NRUN-VM: FAIL:
# why", then powers off.
export PATH=/bin:/sbin NRUN_ROOT=/var/lib/nrun
fail() {
  echo "NRUN-VM: FAIL: $*"
  poweroff -f
  exit 1
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
# No cgroup hierarchy: labs need none, and this test is about links.
for m in overlay veth sch_netem sch_tbf; do insmod /lib/modules/$m.ko || fail "insmod $m"; done
ip link set lo up
echo "guest: $(uname -r)"

# rtt CONTAINER ADDRESS COUNT: "min avg max" in ms, from busybox ping. One
# ping first, unmeasured: the first one waits for ARP, a round trip more.
rtt() {
  nrun exec "$1" ping -c 1 -W 3 "$2" >/dev/null
  nrun exec "$1" ping -c "$3" -i 0.2 -W 3 "$2" | sed -n 's#.*min/avg/max = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms#\1 \2 \3#p'
}
# within LOW HIGH "min avg max" WHAT: min >= LOW and max < HIGH.
within() {
  set -- "$1" "$2" $3 "$4"
  [ -n "$5" ] || fail "$6: no RTT"
  [ "${3%.*}" -ge "$1" ] && [ "${5%.*}" -lt "$2" ] || fail "$6: RTT min $3 avg $4 max $5 ms, want min >= $1, max < $2"
  echo "guest: $6: RTT min $3 avg $4 max $5 ms"
}

# The example: 50 ms each way on r1-r3 only.
nrun lab deploy /labs/triangle.json >/dev/null || fail "deploy triangle"
within 100 150 "$(rtt triangle-r1 10.0.0.3 10)" "r1 -> r3 over the 50 ms link"
within 0 50 "$(rtt triangle-r1 10.0.0.2 3)" "r1 -> r2 without delay"

# Changed while the lab runs: 100 ms out of r1, 50 ms back from r3.
nrun lab netem triangle r1:to-r3 --delay 100ms || fail "lab netem --delay 100ms"
within 150 220 "$(rtt triangle-r1 10.0.0.3 5)" "after lab netem r1:to-r3 --delay 100ms"
nrun lab inspect triangle | grep -q "delay 100ms" || fail "inspect does not show the new delay"
nrun lab netem triangle r1:to-r3 --clear || fail "lab netem --clear"
nrun lab netem triangle r3:to-r1 --clear || fail "lab netem --clear"
within 0 20 "$(rtt triangle-r1 10.0.0.3 5)" "after --clear on both ends"

# Every impairment at once (netem with tbf under it), applied at deploy.
cat >/tmp/pair.json <<'JSON'
{ "name": "pair", "nodes": { "a": {}, "b": {} },
  "links": [ { "endpoints": ["a:eth1", "b:eth1"], "ips": ["10.99.0.1/30", "10.99.0.2/30"],
               "netem": { "delay": "20ms", "jitter": "2ms", "loss": "0.5%", "duplicate": "0.1%",
                          "reorder": "1%", "corrupt": "0.1%", "rate": "100mbit" } } ] }
JSON
nrun lab deploy /tmp/pair.json >/dev/null || fail "deploy a link with every impairment"
# Reordering sends 1% of the packets at once: a round trip may lose one
# direction's delay, hardly both.
within 18 80 "$(rtt pair-a 10.99.0.2 10)" "20 ms +- 2 ms each way, with loss, reordering and a rate"
nrun lab netem pair a:eth1 --rate 1mbit || fail "lab netem --rate alone"
within 0 40 "$(rtt pair-a 10.99.0.2 3)" "a rate on one end, 20 ms on the other"

nrun lab destroy triangle pair >/dev/null || fail "destroy"
[ -z "$(ls /run/netns)" ] || fail "/run/netns entries left: $(ls /run/netns)"
[ -z "$(nrun ps -aq)" ] || fail "containers left"
[ -z "$(nrun lab ls -q)" ] || fail "labs left"

echo "NRUN-VM: PASS"
poweroff -f
