// Device access of a container: the device cgroup that denies every device
// node but the default ones (so that mknod of the host's disk followed by a
// read fails), and, for --privileged, the host's device nodes.
//
// The rules are pure data (unit-tested): lines for cgroup v1's
// devices.deny/devices.allow, or a BPF_PROG_TYPE_CGROUP_DEVICE program for
// cgroup v2, written as raw instructions as crun and runc do.
#pragma once
#include <linux/bpf.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

struct DeviceRule {
  char type = 'a';         // 'c', 'b' or 'a' (all)
  int64_t major = -1;      // -1: any
  int64_t minor = -1;      // -1: any
  std::string access = "rwm";
  bool operator==(const DeviceRule&) const = default;
};

// Docker's default allow-list: null, zero, full, random, urandom, tty,
// console, ptmx, the pty slaves (136:*) read-write-mknod; mknod (only) of
// any character or block device.
std::vector<DeviceRule> default_device_rules();

// "c 1:3 rwm", "b *:* m".
std::string device_rule_line(const DeviceRule& r);

// cgroup v1: (file, line) writes, "a" denied first, then each rule
// allowed. Pure.
std::vector<std::pair<std::string, std::string>> device_cgroup_v1_writes(const std::vector<DeviceRule>& allow);

// cgroup v2: a device program returning 1 (allow) for a request some rule
// covers and 0 (deny) otherwise. Pure.
std::vector<bpf_insn> device_cgroup_v2_program(const std::vector<DeviceRule>& allow);

// Loads the program into the kernel (its verifier checks it); the fd holds
// it. Needs CAP_BPF or CAP_SYS_ADMIN, not cgroup v2.
sys::Fd load_device_program(const std::vector<DeviceRule>& allow);

// Runs in init right after it joined its cgroup (before the cgroup
// namespace and before the image's code): restricts that cgroup to
// `allow`. `cgroup_dirs` are the directories of the cgroup init is in;
// the v1 devices hierarchy is the one whose directory has devices.allow,
// a v2 cgroup the one with cgroup.controllers. With no devices hierarchy (or
// no cgroup at all) there is nothing to restrict.
void restrict_devices(const std::vector<std::string>& cgroup_dirs, const std::vector<DeviceRule>& allow);

// A device node of the host (for --privileged), path relative to /dev.
struct HostDevice {
  std::string path;  // "net/tun", "sda"
  mode_t mode = 0;   // S_IFCHR/S_IFBLK | permissions
  dev_t rdev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
// The character and block devices under `dev` (default /dev), skipping
// what a container gets its own of (pts, shm, mqueue, the console, ptmx
// and the default nodes) and symlinks.
std::vector<HostDevice> host_devices(const std::string& dev = "/dev");

}  // namespace nrun::runtime
