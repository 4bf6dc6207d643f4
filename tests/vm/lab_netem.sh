#!/usr/bin/env bash
# Lab impairments on a kernel that has netem: this host's kernel is built
# without sch_netem, so tests/integration/lab_test.cpp cannot measure a
# delay here. Boots Debian's cloud kernel under qemu (as tests/vm/run.sh
# does, from the same cached kernel package) with veth, sch_netem and
# sch_tbf loaded, deploys examples/labs/triangle.json and a link with every
# impairment, and checks the RTTs, `lab netem` at run time, --clear and
# destroy.
#
#   tests/vm/lab_netem.sh NRUN_BINARY
#
# Exits 77 (skipped) when qemu or the kernel is missing, 0 when the guest
# printed "NRUN-VM: PASS", 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${NRUN_VM_CACHE:-/var/cache/nrun-vm}
skip() { echo "vm: skipped: $*"; exit 77; }

nrun=$(readlink -f "${1:?usage: lab_netem.sh NRUN_BINARY}")
command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null || skip "qemu-system-x86_64 or cpio missing"
ls "$cache"/kernel/boot/vmlinuz-* >/dev/null 2>&1 || skip "no kernel in $cache (tests/vm/run.sh --fetch)"
busybox=$(command -v busybox || true)
[[ -n $busybox ]] || skip "no busybox (busybox-static)"
vmlinuz=$(ls "$cache"/kernel/boot/vmlinuz-* | head -1)

work=$(mktemp -d /tmp/nrun-vm-lab.XXXXXX)
trap 'rm -rf "$work"' EXIT
img=$work/root
mkdir -p "$img"/{bin,sbin,etc,proc,sys,dev,tmp,run,var/lib/nrun,lib/modules,usr/bin,labs}
cp "$busybox" "$img/bin/busybox"
ln -s ../../bin/busybox "$img/usr/bin/busybox"  # where nrun looks for the default image
for applet in $("$busybox" --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$img/bin/$applet"
done
cp "$nrun" "$img/bin/nrun"
ldd "$nrun" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | while read -r lib; do
  mkdir -p "$img$(dirname "$lib")"
  cp -L "$lib" "$img$lib"
done
for m in overlay veth sch_netem sch_tbf; do
  ko=$(find "$cache/kernel/lib/modules" -name "$m.ko*" | head -1)
  [[ -n $ko ]] || skip "no $m module in the kernel package"
  case $ko in
    *.xz) xz -dc "$ko" >"$img/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$ko" >"$img/lib/modules/$m.ko" ;;
    *) cp "$ko" "$img/lib/modules/$m.ko" ;;
  esac
done
cp "$repo/examples/labs/triangle.json" "$img/labs/"
cp "$here/lab_guest.sh" "$img/guest.sh"
echo 'root:x:0:0:root:/root:/bin/sh' >"$img/etc/passwd"
# The initramfs root cannot be pivot_root'ed away from: copy it onto a
# tmpfs and switch_root there first.
mkdir -p "$img/newroot"
cat >"$img/init" <<'INIT'
#!/bin/sh
/bin/mount -t proc proc /proc
/bin/mount -t tmpfs -o size=900m root /newroot
/bin/cp -a /bin /sbin /etc /lib /lib64 /usr /var /labs /guest.sh /newroot/ 2>/dev/null
for d in proc sys dev tmp run; do /bin/mkdir -p /newroot/$d; done
/bin/umount /proc
exec /bin/switch_root /newroot /bin/sh /guest.sh
INIT
chmod +x "$img/init" "$img/guest.sh"
(cd "$img" && find . | cpio -o -H newc --quiet) | gzip -1 >"$work/initrd.gz"

accel=(-cpu max)
if [[ ${NRUN_VM_KVM:-0} == 1 && -r /dev/kvm && -w /dev/kvm ]]; then accel=(-enable-kvm -cpu host,-arch-capabilities); fi
log=$work/console.log
set +e
timeout "${NRUN_VM_TIMEOUT:-300}" qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1" \
  </dev/null >"$log" 2>&1
rc=$?
set -e
grep -a -e "NRUN-VM" -e "^guest:" -e "^nrun:" "$log" || true
if grep -aq 'NRUN-VM: PASS' "$log"; then
  echo "vm: lab netem checks passed on $(basename "$vmlinuz")"
  exit 0
fi
echo "vm: FAILED (qemu exit $rc); console:" >&2
tail -n 80 "$log" >&2
exit 1
