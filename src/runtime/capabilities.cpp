#include "runtime/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {
namespace {
// Indexed by capability number (linux/capability.h, Linux 5.9+).
constexpr const char* kNames[] = {
    "CHOWN",       "DAC_OVERRIDE",   "DAC_READ_SEARCH", "FOWNER",       "FSETID",       "KILL",
    "SETGID",      "SETUID",         "SETPCAP",         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN",   "NET_RAW",        "IPC_LOCK",        "IPC_OWNER",    "SYS_MODULE",   "SYS_RAWIO",
    "SYS_CHROOT",  "SYS_PTRACE",     "SYS_PACCT",       "SYS_ADMIN",    "SYS_BOOT",     "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME",      "SYS_TTY_CONFIG",  "MKNOD",        "LEASE",        "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP",      "MAC_OVERRIDE",    "MAC_ADMIN",    "SYSLOG",       "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ",   "PERFMON",         "BPF",          "CHECKPOINT_RESTORE"};
constexpr int kKnown = static_cast<int>(std::size(kNames));

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_all(const std::string& name) { return upper(name) == "ALL"; }

uint64_t bit(int cap) { return uint64_t{1} << cap; }

uint64_t mask_of(const std::vector<std::string>& names) {
  uint64_t m = 0;
  for (const auto& n : names)
    if (!is_all(n)) m |= bit(*parse_capability(n));
  return m;
}

bool contains_all(const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), is_all);
}
}  // namespace

uint64_t default_capabilities() {
  constexpr int kCaps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,           CAP_FSETID,
                           CAP_KILL,   CAP_SETGID,       CAP_SETUID,           CAP_SETPCAP,
                           CAP_NET_BIND_SERVICE,         CAP_NET_RAW,          CAP_SYS_CHROOT,
                           CAP_MKNOD,  CAP_AUDIT_WRITE,  CAP_SETFCAP};
  uint64_t mask = 0;
  for (int c : kCaps) mask |= bit(c);
  return mask;
}

uint64_t known_capabilities() { return (uint64_t{1} << kKnown) - 1; }

std::optional<int> parse_capability(const std::string& name) {
  std::string n = upper(name);
  if (n.rfind("CAP_", 0) == 0) n = n.substr(4);
  for (int i = 0; i < kKnown; ++i)
    if (n == kNames[i]) return i;
  return std::nullopt;
}

std::string capability_name(int cap) {
  if (cap >= 0 && cap < kKnown) return std::string("CAP_") + kNames[cap];
  return "CAP_" + std::to_string(cap);
}

std::vector<std::string> capability_names(uint64_t caps) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i)
    if (caps & bit(i)) out.push_back(capability_name(i));
  return out;
}

void validate_capability_names(const std::vector<std::string>& names, const char* flag) {
  for (const auto& n : names)
    if (!is_all(n) && !parse_capability(n))
      throw sys::UsageError(std::string("invalid ") + flag + " '" + n + "': unknown capability");
}

uint64_t resolve_capabilities(const std::vector<std::string>& cap_add, const std::vector<std::string>& cap_drop,
                              bool privileged, uint64_t all) {
  validate_capability_names(cap_add, "--cap-add");
  validate_capability_names(cap_drop, "--cap-drop");
  if (privileged) return all;
  if (contains_all(cap_add)) return all & ~mask_of(cap_drop);
  if (contains_all(cap_drop)) return mask_of(cap_add);
  return (default_capabilities() & ~mask_of(cap_drop)) | mask_of(cap_add);
}

uint64_t available_capabilities() {
  // CapBnd of /proc/self/status: what any process nrun starts can hold.
  const std::string status = sys::read_file("/proc/self/status");
  const auto pos = status.find("\nCapBnd:");
  if (pos == std::string::npos) throw sys::Error("no CapBnd: line in /proc/self/status");
  return std::stoull(status.substr(pos + 8), nullptr, 16) & known_capabilities();
}

void drop_bounding_set(uint64_t keep) {
  for (int cap = 0; cap <= 63; ++cap) {
    if (keep & bit(cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      const int e = errno;
      throw sys::SysError(e, "drop capability " + capability_name(cap));
    }
  }
  sys::check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities");
}

void set_process_capabilities(uint64_t caps) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    const auto word = static_cast<uint32_t>(caps >> (32 * i));
    data[i].effective = data[i].permitted = word;  // inheritable stays empty: see the header
  }
  sys::check(::syscall(SYS_capset, &hdr, data), "capset");
}

}  // namespace nrun::runtime
