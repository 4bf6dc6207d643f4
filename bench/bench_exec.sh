#!/usr/bin/env bash
# Times `nrun exec C /bin/true` against the floor (`nsenter -t PID -a
# /bin/true`, util-linux) and `crun exec` into a crun container on the same
# rootfs, with hyperfine, and writes its section of bench/RESULTS.md. Runs in
# its own network + mount namespace.
#
#   bench/bench_exec.sh [--runs N] [--warmup N] [--baseline PATH]
#
# --baseline: another nrun binary (an older build, say), exec'ing into the
# same container in the same hyperfine run.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
repo=$(pwd)
# shellcheck source=bench/lib.sh
source bench/lib.sh

runs=200
warmup=10
baseline=""
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --baseline) baseline=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bench_exec.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [[ "${NRUN_BENCH_INNER:-}" != 1 ]]; then
  bash scripts/setup.sh >/dev/null
  ensure_packages hyperfine crun jq
  NRUN_BENCH_INNER=1 exec unshare --net --mount --propagation private -- bash "$0" --runs "$runs" --warmup "$warmup" ${baseline:+--baseline "$baseline"}
fi

nrun="$repo/build/nrun"
work=$(mktemp -d /tmp/nrun-bench-exec.XXXXXX)
crun_pid=""
cleanup() {
  "$nrun" --root "$work/root" rm -f target >/dev/null 2>&1 || true
  [[ -z "$crun_pid" ]] || crun --root "$work/crun-state" delete -f bench >/dev/null 2>&1 || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# The target: one nrun container, one crun container, both idle on the same
# busybox rootfs (nrun's image, exported).
"$nrun" --root "$work/root" run -d --net none --name target busybox sleep 1d >/dev/null
pid=$("$nrun" --root "$work/root" inspect target | jq '.[0].State.Pid')
mkdir -p "$work/rootfs" "$work/bundle"
"$nrun" --root "$work/root" image export busybox "$work/busybox.tar"
tar -C "$work/rootfs" -xf "$work/busybox.tar"
(cd "$work/bundle" && crun spec)
jq --arg rootfs "$work/rootfs" '.root.path = $rootfs | .process.args = ["sleep", "1d"] | .process.terminal = false' \
  "$work/bundle/config.json" >"$work/bundle/c.json" && mv "$work/bundle/c.json" "$work/bundle/config.json"
# crun 1.8 refuses this machine's hybrid cgroup layout unless the empty
# cgroup2 mount is hidden from it (in a mount namespace of its own).
crun_wrap=(unshare --mount --propagation private -- sh -c 'mount -t tmpfs x /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh)
"${crun_wrap[@]}" crun --cgroup-manager=disabled --root "$work/crun-state" run -d --bundle "$work/bundle" bench
crun_pid=1

floor="nsenter -t $pid -a /bin/true"
nrun_cmd="$nrun --root $work/root exec target /bin/true"
crun_cmd="crun --cgroup-manager=disabled --root $work/crun-state exec bench /bin/true"
baseline_args=()
[[ -z $baseline ]] || baseline_args=(--command-name baseline "$baseline --root $work/root exec target /bin/true")
hyperfine -N --runs "$runs" --warmup "$warmup" --export-json "$work/a.json" \
  --command-name nsenter "$floor" --command-name nrun "$nrun_cmd" "${baseline_args[@]}"
"${crun_wrap[@]}" hyperfine -N --runs "$runs" --warmup "$warmup" --export-json "$work/b.json" \
  --command-name crun "$crun_cmd"
jq -s '{results: (.[0].results + .[1].results)}' "$work/a.json" "$work/b.json" >"$work/all.json"
f=$(mean_ms "$work/all.json" nsenter)
n=$(mean_ms "$work/all.json" nrun)
c=$(mean_ms "$work/all.json" crun)
cat >"$work/section.md" <<EOT
## exec: \`bench/bench_exec.sh --runs $runs --warmup $warmup\`, $(date -u +%Y-%m-%dT%H:%M:%SZ)

Kernel $(uname -r), $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg) at the end; $(crun --version | head -1).

| command | what | mean [ms] |
|:---|:---|---:|
| nsenter | \`nsenter -t PID -a /bin/true\` (the floor) | $(printf '%.2f' "$f") |
| nrun | \`nrun exec target /bin/true\` | $(printf '%.2f' "$n") |
| crun | \`crun exec bench /bin/true\` (cgroups disabled) | $(printf '%.2f' "$c") |

nrun/nsenter = $(ratio "$n" "$f") (target: at most 1.5), nrun/crun = $(ratio "$n" "$c").
EOT
# What the sealed exec trampoline adds to every start (see
# src/trampoline/exec_trampoline.c): /bin/true exec'd through it against
# /bin/true alone. Its sync fd is stderr here (nrun passes its sync socket).
hyperfine -N --runs "$((runs * 5))" --warmup "$warmup" --export-json "$work/t.json" \
  --command-name direct "/bin/true" --command-name trampoline "$repo/build/nrun_exec_trampoline 2 /bin/true true"
td=$(mean_ms "$work/t.json" direct)
tt=$(mean_ms "$work/t.json" trampoline)
printf '\nThe exec trampoline: /bin/true through it %s ms, alone %s ms: %s ms per start (target: at most 0.3).\n' \
  "$(printf '%.3f' "$tt")" "$(printf '%.3f' "$td")" "$(awk -v a="$tt" -v b="$td" 'BEGIN { printf "%.3f", a - b }')" \
  >>"$work/section.md"
if [[ -n $baseline ]]; then
  b=$(mean_ms "$work/all.json" baseline)
  printf '\nBaseline %s in the same run: %s ms; nrun - baseline = %s ms.\n' "\`$baseline\`" \
    "$(printf '%.2f' "$b")" "$(awk -v a="$n" -v b="$b" 'BEGIN { printf "%.3f", a - b }')" >>"$work/section.md"
fi
cat "$work/section.md"
write_section exec "$work/section.md"
