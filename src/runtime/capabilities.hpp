// Capability sets for a container's processes (Docker's default set).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nrun::runtime {

// Docker's defaults: chown, dac_override, fowner, fsetid, kill, setgid,
// setuid, setpcap, net_bind_service, net_raw, sys_chroot, mknod,
// audit_write, setfcap.
uint64_t default_capabilities();

// Drops every capability outside `keep` from the bounding set and clears
// the ambient set. Needs CAP_SETPCAP: call it before switching user.
void drop_bounding_set(uint64_t keep);

// Sets the effective, permitted and inheritable sets (Docker gives root the
// default set and a non-root user none). Runs last before execve.
void set_process_capabilities(uint64_t caps);

}  // namespace nrun::runtime
