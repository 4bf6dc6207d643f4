// Resource limits of a container, as the user gave them (Docker's units).
// Zero means "not set": the kernel's default applies. The cgroup drivers
// turn these into files of either hierarchy (cgroup.hpp).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace nrun::runtime {

struct Resources {
  int64_t memory = 0;       // bytes
  int64_t memory_swap = 0;  // memory + swap in bytes; 0: twice memory (Docker), -1: unlimited swap
  int64_t nano_cpus = 0;    // 1e9 = one CPU (--cpus 1.5 = 1500000000)
  int64_t cpu_shares = 0;   // relative weight, 2..262144 (1024 is the kernel's default)
  std::string cpuset_cpus;  // "0-1,3"
  int64_t pids_limit = 0;   // maximum number of tasks

  bool any() const { return *this != Resources{}; }
  bool operator==(const Resources&) const = default;
};

inline void to_json(nlohmann::json& j, const Resources& r) {
  j = {{"memory", r.memory},         {"memory_swap", r.memory_swap}, {"nano_cpus", r.nano_cpus},
       {"cpu_shares", r.cpu_shares}, {"cpuset_cpus", r.cpuset_cpus}, {"pids_limit", r.pids_limit}};
}

inline void from_json(const nlohmann::json& j, Resources& r) {
  r.memory = j.value("memory", int64_t{0});
  r.memory_swap = j.value("memory_swap", int64_t{0});
  r.nano_cpus = j.value("nano_cpus", int64_t{0});
  r.cpu_shares = j.value("cpu_shares", int64_t{0});
  r.cpuset_cpus = j.value("cpuset_cpus", "");
  r.pids_limit = j.value("pids_limit", int64_t{0});
}

}  // namespace nrun::runtime
