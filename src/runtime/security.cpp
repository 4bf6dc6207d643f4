#include "runtime/security.hpp"

#include "runtime/capabilities.hpp"

namespace nrun::runtime {

std::optional<SeccompProfile> seccomp_profile_of(const ContainerSpec& spec) {
  if (spec.privileged || spec.seccomp_profile == kSeccompUnconfined) return std::nullopt;
  if (spec.seccomp_profile.empty()) return default_seccomp_profile();
  return parse_seccomp_profile(spec.seccomp_profile, native_seccomp_arch());
}

ProcessSecurity process_security(const ContainerSpec& spec, const std::filesystem::path& seccomp_cache) {
  ProcessSecurity s;
  s.capabilities = resolve_capabilities(spec.cap_add, spec.cap_drop, spec.privileged, available_capabilities());
  s.no_new_privileges = spec.no_new_privileges;
  if (const auto profile = seccomp_profile_of(spec)) {
    const auto target = seccomp_target(s.capabilities);
    s.seccomp = seccomp_cache.empty() ? compile_seccomp(*profile, target)
                                      : compile_seccomp_cached(*profile, target, seccomp_cache);
  }
  s.user = spec.user;
  s.group_add = spec.group_add;
  if (!spec.privileged) s.devices = default_device_rules();
  return s;
}

}  // namespace nrun::runtime
