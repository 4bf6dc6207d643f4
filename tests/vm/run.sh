#!/usr/bin/env bash
# The cgroup v2 driver on a real kernel: boots Debian's cloud kernel under
# qemu with an initramfs holding nrun, its libraries, busybox and the
# overlay module, with cgroup2 as the only hierarchy (cgroup_no_v1=all), and
# runs tests/vm/guest.sh there as PID 1's child. This host has every
# controller on v1, so nothing else here exercises v2 for real.
#
#   tests/vm/run.sh NRUN_BINARY
#
# Needs qemu-system-x86_64 and cpio; the kernel package is fetched with
# `apt-get download` into a cache on first use (NRUN_VM_CACHE, default
# /var/cache/nrun-vm). With NRUN_VM_INSTALL=1 the tools are installed with
# apt-get when missing. Exits 77 (skipped) when something is missing, 0 when
# the guest printed "NRUN-VM: PASS", 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
cache=${NRUN_VM_CACHE:-/var/cache/nrun-vm}
kernel_pkg=${NRUN_VM_KERNEL_PKG:-linux-image-cloud-amd64}

skip() { echo "vm: skipped: $*"; exit 77; }

# The kernel: the newest linux-image-*-cloud-amd64 the metapackage names.
# Fetched outside the tests' throwaway network namespace (scripts/setup.sh
# calls `run.sh --fetch`), where the package mirror is reachable.
fetch_kernel() {
  mkdir -p "$cache"
  ls "$cache"/kernel/boot/vmlinuz-* >/dev/null 2>&1 && return 0
  real_pkg=$(apt-cache depends "$kernel_pkg" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
  [[ -n $real_pkg ]] || skip "apt knows no $kernel_pkg (run apt-get update)"
  (cd "$cache" && apt-get download "$real_pkg" >/dev/null 2>&1) || skip "cannot download $real_pkg"
  rm -rf "$cache/kernel"
  dpkg-deb -x "$cache"/"$real_pkg"_*.deb "$cache/kernel"
  rm -f "$cache"/"$real_pkg"_*.deb
}
if [[ ${1:-} == --fetch ]]; then
  fetch_kernel
  exit 0
fi
nrun=${1:?usage: run.sh NRUN_BINARY | run.sh --fetch}
nrun=$(readlink -f "$nrun")


if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null; then
  [[ ${NRUN_VM_INSTALL:-0} == 1 ]] || skip "qemu-system-x86_64 or cpio missing (NRUN_VM_INSTALL=1 installs them)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 cpio >/dev/null
fi
fetch_kernel
busybox=$(command -v busybox || true)
[[ -n $busybox ]] || skip "no busybox (busybox-static)"

vmlinuz=$(ls "$cache"/kernel/boot/vmlinuz-* | head -1)
overlay_ko=$(find "$cache/kernel/lib/modules" -name 'overlay.ko*' | head -1)
[[ -n $overlay_ko ]] || skip "no overlay module in the kernel package"

work=$(mktemp -d /tmp/nrun-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
img=$work/root

# Initramfs: busybox and its applets, nrun and every library it loads.
mkdir -p "$img"/{bin,sbin,etc,proc,sys,dev,tmp,run,newroot,var/lib/nrun,lib/modules,usr/bin}
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
case $overlay_ko in
  *.xz) xz -dc "$overlay_ko" >"$img/lib/modules/overlay.ko" ;;
  *.zst) zstd -qdc "$overlay_ko" >"$img/lib/modules/overlay.ko" ;;
  *) cp "$overlay_ko" "$img/lib/modules/overlay.ko" ;;
esac
cp "$here/guest.sh" "$img/guest.sh"
echo 'root:x:0:0:root:/root:/bin/sh' >"$img/etc/passwd"
# Stage one: the initramfs root (rootfs) cannot be pivot_root'ed away from,
# so copy everything onto a tmpfs and switch_root there first.
cat >"$img/init" <<'EOF'
#!/bin/sh
/bin/mount -t proc proc /proc
/bin/mount -t tmpfs -o size=900m root /newroot
/bin/cp -a /bin /sbin /etc /lib /lib64 /usr /var /guest.sh /newroot/ 2>/dev/null
for d in proc sys dev tmp run; do /bin/mkdir -p /newroot/$d; done
/bin/umount /proc
exec /bin/switch_root /newroot /bin/sh /guest.sh
EOF
chmod +x "$img/init" "$img/guest.sh"
(cd "$img" && find . | cpio -o -H newc --quiet) | gzip -1 >"$work/initrd.gz"

# TCG by default: it boots in seconds, while KVM nested inside this
# workplace's VMs stalls or trips over MSRs. NRUN_VM_KVM=1 tries KVM.
accel=(-cpu max)
if [[ ${NRUN_VM_KVM:-0} == 1 && -r /dev/kvm && -w /dev/kvm ]]; then accel=(-enable-kvm -cpu host,-arch-capabilities); fi
log=$work/console.log
set +e
timeout "${NRUN_VM_TIMEOUT:-300}" qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1" \
  </dev/null >"$log" 2>&1
rc=$?
set -e
grep -a -e "NRUN-VM" -e "^guest:" -e "^nrun:" "$log" || true
if grep -aq 'NRUN-VM: PASS' "$log"; then
  echo "vm: cgroup v2 checks passed on $(basename "$vmlinuz")"
  exit 0
fi
echo "vm: FAILED (qemu exit $rc); console:" >&2
tail -n 80 "$log" >&2
exit 1
