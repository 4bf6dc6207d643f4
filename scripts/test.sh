#!/usr/bin/env bash
# Builds nrun and runs every test (unit and integration) with one ctest run
# inside a throwaway network + mount namespace, so the host's network and
# mount table are never touched. Then checks that the tests left nothing
# behind on the host. The last line printed is ctest's "N% tests passed".
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

bash scripts/setup.sh

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

# The integration harness makes its roots as /tmp/nrun-it.<tag>.XXXXXX, so
# the leftover check below only ever looks at (and kills) what this run made.
tag="t$$"
export NRUN_IT_TAG=$tag
prefix="/tmp/nrun-it.$tag."

# Inside the namespaces: loopback up (harmless; tests may want it), ctest,
# then check that no overlay mount of a test root is left in this namespace.
# shellcheck disable=SC2016  # expanded by the inner bash
inner='
  ip link set lo up 2>/dev/null || true
  rc=0
  ctest --test-dir build --output-on-failure --timeout 300 -j"$(nproc)" || rc=$?
  if grep -F "$NRUN_IT_PREFIX" /proc/self/mountinfo >&2; then
    echo "test.sh: mounts of test roots left behind (above)" >&2
    [[ $rc -ne 0 ]] || rc=1
  fi
  exit $rc
'

# ctest's "N% tests passed, M tests failed out of K" line is held back and
# printed last, after the leftover check; everything else streams through.
set +e
NRUN_IT_PREFIX=$prefix NRUN_IT_THROWAWAY_NS=1 unshare --net --mount --propagation private -- bash -c "$inner" |
  awk -v f="$summary" '/^[0-9]+% tests passed/ { print > f; fflush(f); next } { print; fflush() }'
status=${PIPESTATUS[0]}
set -e

# On the host: processes the tests started and left running (a detached
# monitor or container outlives the namespace's first process), their mounts,
# and test roots.
leftover=0
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
  cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline" || true)
  if [[ "$cmd" == *"$prefix"* ]] || grep -qsF "$prefix" "$d/mountinfo"; then
    echo "test.sh: leftover process $pid: ${cmd:-?}" >&2
    kill -KILL "$pid" 2>/dev/null || true
    leftover=1
  fi
done
if grep -F "$prefix" /proc/self/mountinfo >&2; then
  echo "test.sh: mounts of test roots left on the host (above)" >&2
  leftover=1
fi
for r in "$prefix"*; do
  [[ -e "$r" ]] || continue
  echo "test.sh: leftover test root $r" >&2
  leftover=1
  if ! grep -qsF "$r" /proc/self/mountinfo; then rm -rf --one-file-system "$r"; fi
done

if [[ -s "$summary" ]]; then cat "$summary"; fi
if ((status == 0 && leftover)); then status=1; fi
exit "$status"
