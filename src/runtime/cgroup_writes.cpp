// Limits as the kernel's files spell them (Documentation/admin-guide/
// cgroup-v2.rst and cgroup-v1/*.rst). Pure.
#include "runtime/cgroup.hpp"
#include "runtime/resource_parse.hpp"

namespace nrun::runtime {

std::vector<CgroupWrite> cgroup_v1_writes(const Resources& r, WriteMode mode) {
  const bool update = mode == WriteMode::update;
  std::vector<CgroupWrite> w;
  if (r.memory > 0 || update) {
    w.push_back({"memory", "memory.limit_in_bytes", r.memory > 0 ? std::to_string(r.memory) : "-1"});
    // memsw exists only with swap accounting; an explicit --memory-swap
    // needs it, Docker's default of twice the memory does not.
    const int64_t swap = effective_memory_swap(r);
    w.push_back({"memory", "memory.memsw.limit_in_bytes", swap > 0 ? std::to_string(swap) : "-1", r.memory_swap == 0});
  }
  if (r.nano_cpus > 0) {
    w.push_back({"cpu", "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)});
    w.push_back({"cpu", "cpu.cfs_quota_us", std::to_string(cpu_quota_us(r.nano_cpus))});
  } else if (update) {
    w.push_back({"cpu", "cpu.cfs_quota_us", "-1"});
  }
  if (r.cpu_shares > 0 || update)
    w.push_back({"cpu", "cpu.shares", std::to_string(r.cpu_shares > 0 ? r.cpu_shares : 1024)});
  if (!r.cpuset_cpus.empty()) w.push_back({"cpuset", "cpuset.cpus", r.cpuset_cpus});
  if (r.pids_limit > 0 || update)
    w.push_back({"pids", "pids.max", r.pids_limit > 0 ? std::to_string(r.pids_limit) : "max"});
  return w;
}

std::vector<CgroupWrite> cgroup_v2_writes(const Resources& r, WriteMode mode) {
  const bool update = mode == WriteMode::update;
  std::vector<CgroupWrite> w;
  if (r.memory > 0 || update) {
    w.push_back({"memory", "memory.max", r.memory > 0 ? std::to_string(r.memory) : "max"});
    // v2 limits swap alone, not memory + swap as v1's memsw does.
    const int64_t swap = effective_memory_swap(r);
    w.push_back({"memory", "memory.swap.max", swap > 0 ? std::to_string(swap - r.memory) : "max", r.memory_swap == 0});
  }
  if (r.nano_cpus > 0)
    w.push_back({"cpu", "cpu.max", std::to_string(cpu_quota_us(r.nano_cpus)) + " " + std::to_string(kCpuPeriodUs)});
  else if (update)
    w.push_back({"cpu", "cpu.max", "max " + std::to_string(kCpuPeriodUs)});
  if (r.cpu_shares > 0 || update)
    w.push_back({"cpu", "cpu.weight",
                 std::to_string(r.cpu_shares > 0 ? cpu_shares_to_weight(static_cast<uint64_t>(r.cpu_shares)) : 100)});
  if (!r.cpuset_cpus.empty()) w.push_back({"cpuset", "cpuset.cpus", r.cpuset_cpus});
  if (r.pids_limit > 0 || update)
    w.push_back({"pids", "pids.max", r.pids_limit > 0 ? std::to_string(r.pids_limit) : "max"});
  return w;
}

}  // namespace nrun::runtime
