// Network namespaces reachable by name for the host's tools (`ip netns exec
// LAB-NODE tcpdump -i eth5`), the way iproute2's `ip netns attach` makes
// them: /run/netns is a shared mount point, and each name is a file there
// with the namespace bind-mounted onto it.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace nrun::lab {

inline constexpr const char* kNetnsDir = "/run/netns";

// Creates `dir` and makes it a shared mount point (a bind mount onto itself
// the first time), as iproute2 does, so that a name removed here is removed
// from every mount namespace that copied it. Idempotent.
void ensure_netns_dir(const std::filesystem::path& dir = kNetnsDir);

// Bind-mounts /proc/<pid>/ns/net onto dir/name. Throws UsageError when the
// name is taken.
void bind_netns(const std::string& name, pid_t pid, const std::filesystem::path& dir = kNetnsDir);

// Unmounts and removes dir/name; false when there was no such name.
bool unbind_netns_if_exists(const std::string& name, const std::filesystem::path& dir = kNetnsDir);

bool netns_name_exists(const std::string& name, const std::filesystem::path& dir = kNetnsDir);

}  // namespace nrun::lab
