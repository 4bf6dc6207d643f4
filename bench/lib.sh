# Shared by the bench scripts (sourced).

# /run/netns is on the host's /run even inside the bench's own mount
# namespace: remember_netns_dir notes whether it is there already, and
# release_netns_dir unmounts what this namespace mounted on it and removes
# the directory if the bench made it. mount_private_netns_dir puts a tmpfs of
# this mount namespace over it, so `ip netns add` pins nothing on the host.
remember_netns_dir() {
  NRUN_MADE_NETNS_DIR=0
  [[ -e /run/netns ]] || NRUN_MADE_NETNS_DIR=1
}
mount_private_netns_dir() {
  remember_netns_dir
  mkdir -p /run/netns
  mount -t tmpfs -o size=1m nrun-bench-netns /run/netns
}
release_netns_dir() {
  while umount /run/netns 2>/dev/null; do :; done
  if ((${NRUN_MADE_NETNS_DIR:-0})); then rmdir /run/netns 2>/dev/null || true; fi
}

# ensure_packages PKG...: installs the Debian packages that are missing
# (apt-get, quietly), so a bench runs on a fresh machine.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" == installed ]] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "bench: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# write_section NAME FILE: replaces the section of bench/RESULTS.md between
# "<!-- NAME -->" and "<!-- /NAME -->" with the contents of FILE (appends it
# when missing), so each benchmark owns its part of one results page.
write_section() {
  local name=$1 body=$2 results
  results="$(dirname "${BASH_SOURCE[0]}")/RESULTS.md"
  [[ -f "$results" ]] || printf '# Benchmark results\n' >"$results"
  python3 - "$results" "$name" "$body" <<'PY'
import re, sys
path, name, body = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip() + "\n"
text = open(path).read()
block = f"<!-- {name} -->\n{body}<!-- /{name} -->\n"
pattern = re.compile(rf"<!-- {re.escape(name)} -->\n.*?<!-- /{re.escape(name)} -->\n", re.S)
text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
open(path, "w").write(text)
PY
}

# mean_ms JSON NAME: a hyperfine result's mean in milliseconds.
mean_ms() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .mean * 1000' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
