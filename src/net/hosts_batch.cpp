#include "net/hosts_batch.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "net/network.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/lock.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/proc.hpp"
#include "runtime/sys/scope_guard.hpp"

namespace nrun::net {
namespace fs = std::filesystem;

namespace {
fs::path mark_of(const NetworkStore& store, const std::string& network) {
  return store.dir() / (network + ".hosts-batch");
}
}  // namespace

bool hosts_batched(const NetworkStore& store, const std::string& network) {
  const auto text = sys::try_read_file(mark_of(store, network).string());
  if (!text) return false;
  long long pid = 0;
  unsigned long long start = 0;
  if (std::sscanf(text->c_str(), "%lld %llu", &pid, &start) != 2 || pid <= 0) return false;
  return sys::process_matches(static_cast<pid_t>(pid), start);
}

void remove_hosts_batch_mark(const NetworkStore& store, const std::string& network) {
  std::error_code ec;
  fs::remove(mark_of(store, network), ec);
  if (ec) throw sys::SysError(ec.value(), "remove '" + mark_of(store, network).string() + "'");
}

HostsBatch::HostsBatch(NetworkStore& store, fs::path containers_dir)
    : store_(store), containers_dir_(std::move(containers_dir)) {}

HostsBatch::~HostsBatch() {
  try {
    end();
  } catch (const std::exception& e) {
    log::warn("rewrite /etc/hosts after a batch: " + sys::describe(e) + ", ignoring");
  }
}

void HostsBatch::add(const std::string& network) {
  if (std::find(networks_.begin(), networks_.end(), network) != networks_.end()) return;
  const pid_t self = ::getpid();
  const auto start = sys::try_process_start_time(self);
  if (!start) throw sys::Error("batch /etc/hosts of network '" + network + "': no start time for this process");
  // Not fsync'd: a mark only matters while its process lives.
  sys::write_file_atomic(mark_of(store_, network).string(),
                         std::to_string(self) + " " + std::to_string(*start) + "\n", 0644, sys::Durability::none);
  networks_.push_back(network);
}

void HostsBatch::end() {
  if (networks_.empty()) return;
  // Under the lock: an attach that skipped its peers has finished, and one
  // that comes after the marks are gone rewrites its peers itself.
  auto lock = store_.lock();
  const std::vector<std::string> nets = std::exchange(networks_, {});
  // The marks go even when a rewrite fails: a mark left behind would keep
  // the next attaches from telling their peers for as long as we live.
  sys::ScopeGuard unmark([&] {
    for (const auto& n : nets) remove_hosts_batch_mark(store_, n);
  });
  rewrite_hosts(store_, containers_dir_, nets);
  unmark.dismiss();
  for (const auto& n : nets) remove_hosts_batch_mark(store_, n);
}

}  // namespace nrun::net
