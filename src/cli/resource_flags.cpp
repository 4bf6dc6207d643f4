#include "cli/resource_flags.hpp"

#include "runtime/cgroup.hpp"
#include "runtime/resource_parse.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {
using runtime::Resources;
using sys::UsageError;

namespace {
bool given(const CLI::Option* o) { return o && o->count() > 0; }

UsageError invalid(const std::string& flag, const std::string& value, const std::string& why) {
  return UsageError("invalid " + flag + " '" + value + "': " + why);
}

int64_t parse_memory(const std::string& flag, const std::string& v) {
  const auto n = runtime::try_parse_size(v);
  if (!n) throw invalid(flag, v, "expected a size such as 256m (units b, k, m, g)");
  if (*n == 0) throw invalid(flag, v, "must be positive");
  return *n;
}

void apply_flags(Resources& r, const ResourceFlags& f) {
  if (given(f.memory_opt)) r.memory = parse_memory("--memory", f.memory);
  if (given(f.memory_swap_opt))
    r.memory_swap = f.memory_swap == "-1" ? -1 : parse_memory("--memory-swap", f.memory_swap);
  if (given(f.cpus_opt)) {
    const auto n = runtime::try_parse_cpus(f.cpus);
    if (!n) throw invalid("--cpus", f.cpus, "expected a number of CPUs such as 1.5");
    r.nano_cpus = *n;  // 0 lifts the limit, as Docker
  }
  if (given(f.cpu_shares_opt)) {
    const auto n = runtime::try_parse_int(f.cpu_shares);
    if (!n || *n < 0) throw invalid("--cpu-shares", f.cpu_shares, "expected a relative weight from 2 to 262144");
    r.cpu_shares = *n;  // 0: the default weight, as Docker
  }
  if (given(f.cpuset_cpus_opt)) {
    const auto cpus = runtime::try_parse_cpu_list(f.cpuset_cpus);
    if (!cpus) throw invalid("--cpuset-cpus", f.cpuset_cpus, "expected CPU numbers such as 0-2,5");
    r.cpuset_cpus = runtime::format_cpu_list(*cpus);
  }
  if (given(f.pids_limit_opt)) {
    const auto n = runtime::try_parse_int(f.pids_limit);
    if (!n || *n == 0 || *n < -1)
      throw invalid("--pids-limit", f.pids_limit, "must be a positive number of processes, or -1 for no limit");
    r.pids_limit = *n == -1 ? 0 : *n;
  }
  runtime::validate_resources(r, runtime::host_online_cpus());
}
}  // namespace

bool ResourceFlags::any_given() const {
  return given(memory_opt) || given(memory_swap_opt) || given(cpus_opt) || given(cpu_shares_opt) ||
         given(cpuset_cpus_opt) || given(pids_limit_opt);
}

void add_resource_flags(CLI::App* cmd, ResourceFlags& f) {
  f.memory_opt = cmd->add_option("-m,--memory", f.memory, "Memory limit (e.g. 256m; units b, k, m, g)");
  f.memory_swap_opt = cmd->add_option("--memory-swap", f.memory_swap,
                                      "Memory plus swap limit; -1 for unlimited swap (default: twice --memory)");
  f.cpus_opt = cmd->add_option("--cpus", f.cpus, "Number of CPUs (e.g. 1.5)");
  f.cpu_shares_opt = cmd->add_option("--cpu-shares", f.cpu_shares, "Relative CPU weight, 2-262144 (default 1024)");
  f.cpuset_cpus_opt = cmd->add_option("--cpuset-cpus", f.cpuset_cpus, "CPUs to run on (e.g. 0-1,3)");
  f.pids_limit_opt = cmd->add_option("--pids-limit", f.pids_limit, "Maximum number of processes; -1 for no limit");
}

Resources to_resources(const ResourceFlags& f) {
  Resources r;
  apply_flags(r, f);
  return r;
}

Resources merge_resources(Resources current, const ResourceFlags& f) {
  apply_flags(current, f);
  return current;
}

}  // namespace nrun::cli
