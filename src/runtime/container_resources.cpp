#include "runtime/container_resources.hpp"

#include <time.h>

#include <sstream>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

namespace {
uint64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t host_memory_bytes() {
  std::istringstream in(sys::read_file("/proc/meminfo"));
  for (std::string key; in >> key;) {
    uint64_t kb = 0;
    in >> kb;
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}
}  // namespace

NetCounters parse_net_dev(std::string_view text) {
  NetCounters out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    std::istringstream name_in(line.substr(0, colon));
    std::string name;
    name_in >> name;
    if (name == "lo" || name.empty()) continue;
    // bytes packets errs drop fifo frame compressed multicast, then the same
    // eight for transmit.
    std::istringstream nums(line.substr(colon + 1));
    uint64_t v[9] = {};
    for (auto& x : v)
      if (!(nums >> x)) break;
    out.rx += v[0];
    out.tx += v[8];
  }
  return out;
}

UsageSample sample_usage(const ContainerRecord& rec) {
  UsageSample s;
  if (!is_alive(rec.state)) return s;
  s.taken_ns = monotonic_ns();
  s.host_memory = host_memory_bytes();
  if (auto cg = cgroup_from_json(rec.state.cgroup)) {
    s.cgroup = cg->stats();
    s.has_cgroup = true;
  }
  // /proc/PID/net is the network namespace of PID: the container's own,
  // whatever its network mode.
  try {
    const auto net = parse_net_dev(sys::read_file("/proc/" + std::to_string(rec.state.pid) + "/net/dev"));
    s.net_rx = net.rx;
    s.net_tx = net.tx;
  } catch (const sys::SysError&) {
    // Exited while we looked: checked below.
  }
  // Read, then checked: a pid reused meanwhile is someone else's numbers.
  s.running = is_alive(rec.state);
  return s.running ? s : UsageSample{};
}

Resources update_resources(StateStore& store, const std::string& id,
                           const std::function<Resources(const Resources&)>& merge) {
  Resources out;
  store.update_config(id, [&](ContainerSpec& spec, const ContainerState& state) {
    out = merge(spec.resources);
    if (is_alive(state)) {
      auto cg = cgroup_from_json(state.cgroup);
      if (!cg) throw sys::Error("container '" + spec.name + "' runs without a cgroup: its limits cannot change");
      cg->update(out);
    }
    spec.resources = out;
  });
  return out;
}

}  // namespace nrun::runtime
