// Resource use and limits of a container: what `nrun stats` samples and
// what `nrun update` changes.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/cgroup.hpp"
#include "runtime/state.hpp"

namespace nrun::runtime {

struct UsageSample {
  bool running = false;
  uint64_t taken_ns = 0;    // CLOCK_MONOTONIC, to turn CPU time into a share
  bool has_cgroup = false;  // false: only the network counters are known
  CgroupStats cgroup;
  uint64_t host_memory = 0;         // MemTotal: the limit shown for an unlimited container, as Docker does
  uint64_t net_rx = 0, net_tx = 0;  // bytes over all of the container's interfaces but lo
};

// A sample of a container now; running == false (and nothing else) when it
// does not run.
UsageSample sample_usage(const ContainerRecord& rec);

struct NetCounters {
  uint64_t rx = 0, tx = 0;
};
// /proc/PID/net/dev summed over every interface but lo. Pure.
NetCounters parse_net_dev(std::string_view text);

// Changes a container's limits to merge(current). When it runs, its cgroup
// gets them first (an error there leaves config.json as it was); then
// config.json, so the next start applies them too. Under the record's lock,
// so concurrent updates do not lose one another. Returns the new limits.
Resources update_resources(StateStore& store, const std::string& id,
                           const std::function<Resources(const Resources&)>& merge);

}  // namespace nrun::runtime
