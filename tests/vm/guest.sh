#!/bin/sh
# Runs inside the VM (tests/vm/run.sh) as PID 1 on a kernel whose only
# cgroup hierarchy is cgroup2: nrun's v2 driver against the real thing.
# Prints "NRUN-VM: PASS" or "NRUN-VM: FAIL: why", then powers off.
export PATH=/bin:/sbin NRUN_ROOT=/var/lib/nrun
fail() {
  echo "NRUN-VM: FAIL: $*"
  poweroff -f
  exit 1
}
check() {  # check FILE EXPECTED
  got=$(cat "$1" 2>&1)
  [ "$got" = "$2" ] || fail "$1 holds '$got', want '$2'"
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
insmod /lib/modules/overlay.ko || fail "insmod overlay"
grep -q ' - cgroup ' /proc/self/mountinfo && fail "a v1 hierarchy is mounted"
echo "guest: $(uname -r), controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

# OOM kill: exit 137, shown by inspect and ps.
nrun run --net none --name oom -m 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1
rc=$?
[ $rc = 137 ] || fail "an allocation past --memory 32m exited $rc, want 137"
nrun inspect oom | grep -q '"OOMKilled": true' || fail "inspect does not show OOMKilled"
nrun ps -a | grep -q OOMKilled || fail "ps -a does not show OOMKilled"

# Every limit as cgroup v2 spells it.
id=$(nrun run -d --net none --name lim -m 48m --memory-swap 64m --cpus 0.5 --cpu-shares 512 \
  --cpuset-cpus 0 --pids-limit 10 busybox sleep 300) || fail "run -d with limits"
d=/sys/fs/cgroup/nrun/$id
check $d/memory.max 50331648
check $d/memory.swap.max 16777216
check $d/cpu.max "50000 100000"
check $d/cpu.weight 20
check $d/cpuset.cpus 0
check $d/pids.max 10
for c in cpu cpuset memory pids; do
  grep -qw $c /sys/fs/cgroup/cgroup.subtree_control || fail "$c not enabled in the root's subtree_control"
  grep -qw $c /sys/fs/cgroup/nrun/cgroup.subtree_control || fail "$c not enabled in nrun's subtree_control"
done
[ "$(wc -l <$d/cgroup.procs)" = 1 ] || fail "init is not in its cgroup"

# The container sees its cgroup as the root of its cgroup namespace.
inside=$(nrun run --rm --net none busybox cat /proc/self/cgroup)
[ "$inside" = "0::/" ] || fail "/proc/self/cgroup inside is '$inside'"

# Init and exec'd processes are born in the container's cgroup with
# clone3(CLONE_INTO_CGROUP): no task move (each costs an RCU grace period).
dbg=$(nrun --log-level debug run --rm --net none busybox true 2>&1)
echo "$dbg" | grep -q 'clone3 into the cgroup' && fail "init not cloned into its cgroup: $dbg"
dbg=$(nrun --log-level debug exec lim sh -c 'cat /proc/self/cgroup' 2>&1)
echo "$dbg" | grep -q 'clone3 into the cgroup' && fail "exec not cloned into the cgroup: $dbg"
echo "$dbg" | grep -qx '0::/' || fail "exec'd process is not in the container's cgroup: $dbg"
[ "$(wc -l <$d/cgroup.procs)" = 1 ] || fail "the exec'd process left something in the cgroup"

# The device cgroup, an eBPF program on v2: mknod of a block device is
# allowed, opening it is not (with --privileged it is); the default nodes
# work.
out=$(nrun run --rm --net none busybox sh -c 'mknod /tmp/b b 7 0 && head -c1 /tmp/b; head -c1 /dev/zero | wc -c' 2>&1)
echo "$out" | grep -q 'Operation not permitted' || fail "a block device opened inside: $out"
[ "$(echo "$out" | tail -1)" = 1 ] || fail "/dev/zero unreadable inside: $out"
out=$(nrun run --rm --net none --privileged busybox sh -c 'mknod /tmp/b b 7 0 && head -c1 /tmp/b' 2>&1)
echo "$out" | grep -q 'Operation not permitted' && fail "--privileged cannot open a block device: $out"

# update, stats.
nrun update --memory 96m --memory-swap 128m --cpus 1 --pids-limit 20 lim >/dev/null || fail "update"
check $d/memory.max 100663296
check $d/memory.swap.max 33554432
check $d/cpu.max "100000 100000"
check $d/pids.max 20
nrun stats --no-stream --format json lim | grep -q '"MemLimitBytes":100663296' || fail "stats"

# A fork bomb stops at the limit (the shell's forks fail; see
# tests/integration/cgroup_test.cpp for why a subshell does the forking).
bomb=$(nrun run -d --net none --pids-limit 10 busybox sh -c \
  'mkfifo /tmp/f; exec 3<>/tmp/f; while :; do (while :; do sleep 300 & read -t 0.05 x <&3; done); read -t 0.1 x <&3; done')
sleep 2
n=$(cat /sys/fs/cgroup/nrun/$bomb/pids.current)
[ "$n" -ge 9 ] && [ "$n" -le 10 ] || fail "fork bomb at $n tasks, want 9-10"
grep -q '^max [1-9]' /sys/fs/cgroup/nrun/$bomb/pids.events || fail "pids.events counts no refused fork"

# A busy loop at --cpus 0.5 gets about half a CPU.
spin=$(nrun run -d --net none --cpus 0.5 busybox sh -c 'while :; do :; done')
sleep 1
u0=$(awk '/usage_usec/ { print $2 }' /sys/fs/cgroup/nrun/$spin/cpu.stat)
sleep 3
u1=$(awk '/usage_usec/ { print $2 }' /sys/fs/cgroup/nrun/$spin/cpu.stat)
share=$(( (u1 - u0) / 30000 ))
[ $share -ge 30 ] && [ $share -le 70 ] || fail "busy loop at --cpus 0.5 used ${share}% of a CPU"
echo "guest: --cpus 0.5 busy loop used ${share}% of a CPU"

# Gone after exit and rm: the container's cgroups and nrun's parent.
nrun rm -f lim $bomb $spin >/dev/null || fail "rm -f"
[ -e $d ] && fail "cgroup $d left after rm"
[ -e /sys/fs/cgroup/nrun/$bomb ] && fail "fork bomb's cgroup left after rm"
[ -e /sys/fs/cgroup/nrun ] && fail "/sys/fs/cgroup/nrun left with no container"

# nrun in a cgroup that holds processes (a login session's scope): that
# cgroup may not delegate, so the container goes beside it, below its parent.
mkdir -p /sys/fs/cgroup/user.slice/session.scope
echo "+cpu +cpuset +memory +pids" >/sys/fs/cgroup/user.slice/cgroup.subtree_control || fail "delegate to user.slice"
echo $$ >/sys/fs/cgroup/user.slice/session.scope/cgroup.procs || fail "move into session.scope"
id=$(nrun run -d --net none -m 32m --pids-limit 5 busybox sleep 300) || fail "run -d from a session scope"
check /sys/fs/cgroup/user.slice/nrun/$id/memory.max 33554432
check /sys/fs/cgroup/user.slice/nrun/$id/pids.max 5
nrun rm -f $id >/dev/null || fail "rm -f"
[ -e /sys/fs/cgroup/user.slice/nrun ] && fail "user.slice/nrun left"

echo "NRUN-VM: PASS"
poweroff -f
