// The container's /etc/hosts and /etc/resolv.conf: rendered in pure code,
// written under the container's directory and bind-mounted by init. Peers'
// files are rewritten in place (never renamed: the bind mount holds the
// inode) as containers come and go on user networks.
#pragma once
#include <string>
#include <vector>

namespace nrun::net {

inline constexpr const char* kHostsFile = "hosts";
inline constexpr const char* kResolvFile = "resolv.conf";

struct HostsEntry {
  std::string ip;
  std::vector<std::string> names;
  bool operator==(const HostsEntry&) const = default;
};

// localhost lines, then `self` (the container's own address and names),
// then `peers` (a name listed once: the first entry that has it wins).
std::string render_hosts(const HostsEntry& self, const std::vector<HostsEntry>& peers);

// The host's resolv.conf with loopback nameservers (a local stub the
// container cannot reach) dropped; `dns` replaces the nameservers; with
// none left, Google's public resolvers, as Docker does.
std::string render_resolv_conf(const std::string& host_resolv_conf, const std::vector<std::string>& dns);

// True when `resolv_conf` names a nameserver a container can reach (not
// loopback).
bool has_usable_nameserver(const std::string& resolv_conf);

// Writes `data` into `path` in place (same inode: overwritten, then
// truncated to its new length). With `create`
// a missing file is created; otherwise a missing file is left alone and
// false is returned.
bool write_in_place(const std::string& path, const std::string& data, bool create);

}  // namespace nrun::net
