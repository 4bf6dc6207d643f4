#!/usr/bin/env bash
# Installs what nrun needs to build and test (only what is missing), then
# configures and builds it into build/. Quiet when everything is there.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

packages=(
  build-essential cmake pkg-config
  libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev libarchive-dev libseccomp-dev
  libzstd-dev liblz4-dev libacl1-dev libbz2-dev liblzma-dev zlib1g-dev  # libarchive.a links against them
  busybox-static iproute2 nftables util-linux
  strace  # tests: syscalls failed or processes killed at chosen points (fault injection)
  qemu-system-x86 cpio  # tests/vm: the cgroup v2 driver on a real v2-only kernel
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The v2 test's kernel is fetched here: the tests run in a namespace without
# network. Without it that test is skipped, not failed.
bash tests/vm/run.sh --fetch >/dev/null || echo "setup: no kernel for tests/vm; its test will be skipped" >&2

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
