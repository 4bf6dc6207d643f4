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

// Drops every capability outside `keep` from the bounding set, sets the
// effective, permitted and inheritable sets to `keep` and clears the ambient
// set. Runs in the container's process right before execve.
void apply_capabilities(uint64_t keep);

}  // namespace nrun::runtime
