// --sysctl: only sysctls that belong to a namespace the container owns
// (Docker's list), written by init into its own /proc after pivot_root,
// before /proc/sys becomes read-only.
#pragma once
#include <map>
#include <string>
#include <utility>

namespace nrun::runtime {

// "KEY=VALUE" -> (KEY, VALUE); throws UsageError.
std::pair<std::string, std::string> parse_sysctl(const std::string& arg);

// Pure. Allowed: kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem,
// kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced and
// fs.mqueue.* (the IPC namespace: not with --ipc host or container:), and
// net.* (the network namespace: not with --net host or container:).
// Throws UsageError naming the key and the reason.
void validate_sysctl(const std::string& key, const std::string& net_mode, const std::string& ipc_mode);

// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward" (relative to /proc/sys).
std::string sysctl_path(const std::string& key);

// In init, after pivot_root: writes each value through /proc/sys, checking
// that /proc/sys and each file are procfs and that nothing on the way is a
// symlink or another mount.
void write_sysctls(const std::map<std::string, std::string>& sysctls);

}  // namespace nrun::runtime
