// The security settings every process nrun starts in a container runs
// with — its init and each `nrun exec` — derived from the container's spec
// in the parent, so that both get exactly the same ones.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/devices.hpp"
#include "runtime/seccomp.hpp"
#include "runtime/spec.hpp"

namespace nrun::runtime {

struct ProcessSecurity {
  uint64_t capabilities = 0;       // bounding set; also effective and permitted for root
  bool no_new_privileges = true;
  SeccompProgram seccomp;          // empty: unconfined
  std::string user;                // USER[:GROUP], resolved inside; empty: root
  std::vector<std::string> group_add;
  std::vector<DeviceRule> devices;  // the device cgroup's allow-list; empty: all (--privileged)
};

// The profile `spec` asks for, or nullopt for none (--privileged,
// seccomp=unconfined). Throws UsageError for a bad profile.
std::optional<SeccompProfile> seccomp_profile_of(const ContainerSpec& spec);

// Capabilities resolved against what this host allows, the seccomp filter
// compiled for them (memoised in `seccomp_cache`, nrun's root's cache/;
// empty: compile every time). Throws UsageError (bad names, bad profile)
// or Error.
ProcessSecurity process_security(const ContainerSpec& spec, const std::filesystem::path& seccomp_cache = {});

}  // namespace nrun::runtime
