// The resource-limit flags of `run` and `update`, spelled as Docker spells
// them, and their translation into runtime::Resources.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "runtime/resources.hpp"

namespace nrun::cli {

struct ResourceFlags {
  std::string memory, memory_swap, cpus, cpu_shares, cpuset_cpus, pids_limit;
  // Kept to tell a flag not given from a flag given an empty value.
  CLI::Option *memory_opt = nullptr, *memory_swap_opt = nullptr, *cpus_opt = nullptr, *cpu_shares_opt = nullptr,
              *cpuset_cpus_opt = nullptr, *pids_limit_opt = nullptr;
  bool any_given() const;
};

// -m/--memory, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit.
void add_resource_flags(CLI::App* cmd, ResourceFlags& f);

// The limits of `run`. Throws UsageError naming the flag and the problem:
// an unparsable or non-positive size, --cpus beyond the host's CPUs, a cpuset
// naming absent CPUs, --pids-limit 0, ...
runtime::Resources to_resources(const ResourceFlags& f);
// `update`: the flags given replace those limits of `current`; the result is
// validated as a whole.
runtime::Resources merge_resources(runtime::Resources current, const ResourceFlags& f);

}  // namespace nrun::cli
