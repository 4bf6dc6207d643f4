// Network sysctls of one namespace (net.ipv4.ip_forward inside a node).
// /proc/sys/net shows the namespace of the process that reads it, not of
// the /proc it is reached through, so the writes happen in a short-lived
// child that joins the namespace: nrun itself never leaves its own.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "runtime/sys/fd.hpp"

namespace nrun::lab {

// "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward".
std::string sysctl_path(const std::string& key);

// Writes each value in `netns` (an fd of /proc/PID/ns/net), in order.
// Throws sys::Error naming the first sysctl that failed and why.
void write_sysctls_in(const sys::Fd& netns, const std::vector<std::pair<std::string, std::string>>& sysctls);

}  // namespace nrun::lab
