#!/usr/bin/env bash
# Times `nrun run --rm busybox /bin/true` against the floor (bare namespaces
# + chroot on the same rootfs) and against crun on the same rootfs, with
# hyperfine, and writes bench/RESULTS.md. Runs inside its own network + mount
# namespace. See bench/README.md.
#
#   bench/bench_run.sh [--runs N] [--warmup N] [--skip-nrun] [--baseline PATH]
#
# --baseline: another nrun binary (an older build, say), timed with --net none
# in the same hyperfine run as nrun-net-none.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"

runs=100
warmup=5
skip_nrun=0
baseline=""
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --skip-nrun) skip_nrun=1; shift ;;  # only the floor and crun (to try the bench itself)
    --baseline) baseline=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "bench_run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ "${NRUN_BENCH_INNER:-}" != 1 ]]; then
  if ((skip_nrun)); then
    bash scripts/setup.sh >/dev/null || echo "bench: build failed; going on without nrun" >&2
  else
    bash scripts/setup.sh >/dev/null
  fi
  ensure_packages hyperfine crun jq
  # Everything below runs in a throwaway network + mount namespace.
  inner_args=(--runs "$runs" --warmup "$warmup")
  ((!skip_nrun)) || inner_args+=(--skip-nrun)
  [[ -z $baseline ]] || inner_args+=(--baseline "$baseline")
  NRUN_BENCH_INNER=1 exec unshare --net --mount --propagation private -- bash "$0" "${inner_args[@]}"
fi

ip link set lo up 2>/dev/null || true
nrun="$repo/build/nrun"
work=$(mktemp -d /tmp/nrun-bench.XXXXXX)
out="$repo/bench/out"
mkdir -p "$out"
cleanup() {
  if [[ -x "$nrun" && -d "$work/nrun-root/containers" ]]; then
    "$nrun" --root "$work/nrun-root" ps -aq 2>/dev/null | xargs -r "$nrun" --root "$work/nrun-root" rm -f >/dev/null 2>&1 || true
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

# --- the rootfs: nrun's own busybox image, exported, so all three run the
# same files. Without nrun, a rootfs built the same way from busybox-static.
rootfs="$work/rootfs"
mkdir -p "$rootfs"
if ((!skip_nrun)); then
  step "nrun: make the busybox image and export it as the shared rootfs"
  if ! "$nrun" --root "$work/nrun-root" run --rm busybox /bin/true; then
    echo "bench: 'nrun run --rm busybox /bin/true' fails; nothing to time (try --skip-nrun)" >&2
    exit 1
  fi
  "$nrun" --root "$work/nrun-root" image export busybox "$work/busybox.tar"
  tar -C "$rootfs" -xf "$work/busybox.tar"
else
  step "rootfs from busybox-static (--skip-nrun)"
  mkdir -p "$rootfs"/{bin,dev,proc,sys,tmp,etc}
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ -e "$rootfs/bin/$applet" ]] || ln -s busybox "$rootfs/bin/$applet"
  done
fi
[[ -x "$rootfs/bin/true" ]] || { echo "bench: the rootfs has no /bin/true" >&2; exit 1; }

# --- crun: `crun spec` made minimal: /bin/true, no terminal, no network
# setup beyond its own empty namespace; state kept in the work dir.
bundle="$work/crun-bundle"
mkdir -p "$bundle"
(cd "$bundle" && crun spec)
jq --arg rootfs "$rootfs" \
  '.root.path = $rootfs | .process.args = ["/bin/true"] | .process.terminal = false | .hostname = "bench"' \
  "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"
crun_cmd="crun --cgroup-manager=disabled --root $work/crun-state run --bundle $bundle nrun-bench"
# crun as nrun runs: a cgroup of its own for each container, made and
# removed by crun's cgroupfs manager (v1 here, v2 on a v2 host).
crun_cg_cmd="crun --cgroup-manager=cgroupfs --root $work/crun-state run --bundle $bundle nrun-bench"
floor_cmd="unshare --pid --mount --uts --ipc --net --fork chroot $rootfs /bin/true"
nrun_cmd="$nrun --root $work/nrun-root run --rm busybox /bin/true"
# The like-for-like one: floor and crun get an empty network namespace too,
# while nrun's default network adds a veth on a bridge.
nrun_none_cmd="$nrun --root $work/nrun-root run --rm --net none busybox /bin/true"
baseline_cmd=""
[[ -z $baseline ]] || baseline_cmd="$baseline --root $work/nrun-root run --rm --net none busybox /bin/true"

step "check that each command works once"
# The commands are strings (hyperfine -N splits them the same way); the
# paths in them have no spaces.
# shellcheck disable=SC2086
$floor_cmd
# crun 1.8 refuses a hybrid cgroup layout whose v2 hierarchy has controllers
# ("cgroups in hybrid mode not supported"), even with cgroups disabled. Then
# its runs (and only they) see /sys/fs/cgroup/unified hidden under a tmpfs,
# in a mount namespace of their own; nrun's and the floor's are untouched.
crun_wrap=()
# shellcheck disable=SC2086
if ! $crun_cmd 2>"$work/crun.err"; then
  if grep -q "hybrid mode" "$work/crun.err"; then
    echo "bench: crun refuses this hybrid cgroup layout; hiding /sys/fs/cgroup/unified from crun's runs"
    crun_wrap=(unshare --mount --propagation private -- sh -c \
      'mount -t tmpfs nrun-bench /sys/fs/cgroup/unified && exec "$@"' sh)
    # shellcheck disable=SC2086
    "${crun_wrap[@]}" $crun_cmd
    # shellcheck disable=SC2086
    "${crun_wrap[@]}" $crun_cg_cmd
  else
    cat "$work/crun.err" >&2
    exit 1
  fi
else
  # shellcheck disable=SC2086
  $crun_cg_cmd
fi
if ((!skip_nrun)); then
  # shellcheck disable=SC2086
  $nrun_cmd && $nrun_none_cmd
fi

hf=(hyperfine -N --runs "$runs" --warmup "$warmup")
step "hyperfine: $runs runs each after $warmup warm-up runs"
main=(--command-name floor "$floor_cmd")
((skip_nrun)) || main+=(--command-name nrun "$nrun_cmd" --command-name nrun-net-none "$nrun_none_cmd")
[[ -z $baseline_cmd ]] || ((skip_nrun)) || main+=(--command-name baseline-net-none "$baseline_cmd")
"${hf[@]}" --export-json "$work/main.json" --export-markdown "$work/main.md" "${main[@]}"
"${crun_wrap[@]}" "${hf[@]}" --export-json "$work/crun.json" --export-markdown "$work/crun.md" \
  --command-name crun "$crun_cmd" --command-name crun-cgroups "$crun_cg_cmd"
jq -s '{results: (.[0].results + .[1].results)}' "$work/main.json" "$work/crun.json" >"$out/run.json"
# One table from both runs (hyperfine's own "Relative" column would compare
# within one run only).
jq -r '(.results[] | select(.command == "floor") | .mean) as $f
  | "| Command | Mean [ms] | Min [ms] | Max [ms] | vs floor |", "|:---|---:|---:|---:|---:|",
    (.results[] | "| `\(.command)` | \(.mean * 1000 * 10 | round / 10) ± \(.stddev * 1000 * 10 | round / 10) | \(.min * 1000 * 10 | round / 10) | \(.max * 1000 * 10 | round / 10) | \(.mean / $f * 100 | round / 100) |")' \
  "$out/run.json" >"$out/run.md"

# --- ratios against the floor (and nrun against crun).
mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' "$out/run.json"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
floor=$(mean floor)
crun_mean=$(mean crun)
crun_cg_mean=$(mean crun-cgroups)
step "results"
summary=$(cat "$out/run.md")
if ((!skip_nrun)); then
  nrun_mean=$(mean nrun)
  none_mean=$(mean nrun-net-none)
  ratios="like for like (no network, a cgroup per container): nrun-net-none/crun-cgroups = $(ratio "$none_mean" "$crun_cg_mean"); against crun without cgroups: nrun-net-none/crun = $(ratio "$none_mean" "$crun_mean"); nrun-net-none/floor = $(ratio "$none_mean" "$floor"), crun/floor = $(ratio "$crun_mean" "$floor"); the default bridge network costs nrun $(ratio "$nrun_mean" "$none_mean")x"
  if [[ -n $baseline_cmd ]]; then
    b=$(mean baseline-net-none)
    ratios+="; against the baseline ($baseline): nrun-net-none - baseline-net-none = $(awk -v a="$none_mean" -v b="$b" 'BEGIN { printf "%.3f", (a - b) * 1000 }') ms"
  fi
else
  ratios="crun/floor = $(ratio "$crun_mean" "$floor"), crun-cgroups/floor = $(ratio "$crun_cg_mean" "$floor") (nrun skipped)"
fi
echo "$summary"
echo "$ratios"

if ((skip_nrun)); then
  echo "bench: --skip-nrun, bench/RESULTS.md left as it was"
  exit 0
fi

tree=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "no commit")
[[ -z "$(git -C "$repo" status --porcelain -- . ":!bench/RESULTS.md" 2>/dev/null)" ]] || tree+=" plus uncommitted changes"
crun_note=""
((${#crun_wrap[@]} == 0)) || crun_note="
- crun 1.8 refuses this hybrid cgroup layout, so its runs had /sys/fs/cgroup/unified hidden under a tmpfs (in their own mount namespace)"
cat >"$work/section.md" <<EOF
## run: start-up of a container

Made by \`bench/bench_run.sh --runs $runs --warmup $warmup\` on $(date -u +%Y-%m-%dT%H:%M:%SZ),
inside \`unshare --net --mount\`.

- kernel $(uname -r), $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load average $(cut -d" " -f1-3 /proc/loadavg) at the end
- $(crun --version | head -1), $(hyperfine --version), nrun at $tree
- rootfs: nrun's busybox image, exported with \`nrun image export\` and shared by every command$crun_note

## Commands

- floor: \`unshare --pid --mount --uts --ipc --net --fork chroot ROOTFS /bin/true\`
- crun: \`crun --cgroup-manager=disabled --root STATE run --bundle BUNDLE nrun-bench\` (config from \`crun spec\`, args \`/bin/true\`, no terminal)
- crun-cgroups: the same with \`--cgroup-manager=cgroupfs\`: crun makes and removes a cgroup per container, as nrun does (the like-for-like one)
- nrun: \`nrun --root ROOT run --rm busybox /bin/true\` (default network: a veth on the default bridge)
- nrun-net-none: \`nrun --root ROOT run --rm --net none busybox /bin/true\` (an empty network namespace, like the other two)

## Results

$summary

$ratios

Means, minima and maxima over $runs runs; \`bench/out/run.json\` has hyperfine's raw numbers.
EOF
write_section run "$work/section.md"
echo "bench: wrote its section of bench/RESULTS.md"
