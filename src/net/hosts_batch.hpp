// Batched /etc/hosts updates of user networks, for labs. Normally every
// attach and detach on a user network rewrites the hosts file of every
// container on it: O(N) files per container, O(N^2) per lab of N nodes. A
// lab deploy or destroy holds a batch on its networks instead: attaches and
// detaches on them write only the container's own file, and the batch's
// end rewrites every file on the networks once.
//
// The mark is ROOT/networks/<name>.hosts-batch, holding the pid and start
// time of the process that batches. A mark whose process is gone (a deploy
// killed midway) counts as no batch, so the next attach or detach on the
// network rewrites its peers' files as usual and brings them up to date.
// Any `run` or `rm` on a batched network is covered by the end's rewrite.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "net/network_store.hpp"

namespace nrun::net {

// True when a live process holds a batch on `network`.
bool hosts_batched(const NetworkStore& store, const std::string& network);

// Removes a network's mark, whoever made it (network rm).
void remove_hosts_batch_mark(const NetworkStore& store, const std::string& network);

class HostsBatch {
 public:
  // Marks nothing yet: add() each network (once it exists).
  HostsBatch(NetworkStore& store, std::filesystem::path containers_dir);
  HostsBatch(const HostsBatch&) = delete;
  HostsBatch& operator=(const HostsBatch&) = delete;
  // Ends the batch if end() was not called; failures are logged.
  ~HostsBatch();

  // Marks `network` as batched by this process.
  void add(const std::string& network);
  // Under the network lock: rewrites the hosts file of every container on
  // the batched networks that still exist, then removes the marks. Idempotent.
  void end();

 private:
  NetworkStore& store_;
  std::filesystem::path containers_dir_;
  std::vector<std::string> networks_;
};

}  // namespace nrun::net
