// Capability sets for a container's processes: Docker's default set,
// --cap-add/--cap-drop/--privileged as Docker spells them, and setting them
// in the process before execve.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nrun::runtime {

// Docker's defaults: chown, dac_override, fowner, fsetid, kill, setgid,
// setuid, setpcap, net_bind_service, net_raw, sys_chroot, mknod,
// audit_write, setfcap.
uint64_t default_capabilities();

// Every capability nrun knows by name (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE).
uint64_t known_capabilities();

// "NET_ADMIN", "CAP_NET_ADMIN", "net_admin" -> CAP_NET_ADMIN; nullopt for
// an unknown name ("ALL" is not a capability: callers handle it).
std::optional<int> parse_capability(const std::string& name);
// CAP_NET_ADMIN -> "CAP_NET_ADMIN".
std::string capability_name(int cap);
std::vector<std::string> capability_names(uint64_t caps);

// Pure: Docker's TweakCapabilities. --privileged or --cap-add ALL start
// from `all` (minus --cap-drop); --cap-drop ALL keeps only --cap-add;
// otherwise the default set minus --cap-drop plus --cap-add. Throws
// UsageError for an unknown name.
uint64_t resolve_capabilities(const std::vector<std::string>& cap_add, const std::vector<std::string>& cap_drop,
                              bool privileged, uint64_t all);
// Throws UsageError naming the first unknown capability.
void validate_capability_names(const std::vector<std::string>& names, const char* flag);

// What "all capabilities" means on this host for a process nrun starts:
// the capabilities in nrun's own bounding set that the kernel knows.
uint64_t available_capabilities();

// Drops every capability outside `keep` from the bounding set and clears
// the ambient set. Needs CAP_SETPCAP: call it before switching user.
void drop_bounding_set(uint64_t keep);

// Sets the effective and permitted sets (Docker gives root the default set
// and a non-root user none) and empties the inheritable set: with it set,
// a non-root user could gain the capabilities through a binary's file
// inheritable bits (CVE-2022-24769; Docker and runc empty it since).
// Runs last before execve.
void set_process_capabilities(uint64_t caps);

}  // namespace nrun::runtime
