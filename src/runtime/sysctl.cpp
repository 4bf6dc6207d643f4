#include "runtime/sysctl.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cctype>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {
using sys::UsageError;

namespace {
constexpr const char* kIpcSysctls[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",   "kernel.sem",
                                       "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};

bool shared_or_host(const std::string& mode) { return mode == "host" || mode.rfind("container:", 0) == 0; }

void check_procfs(int fd, const std::string& what) {
  struct statfs sf;
  sys::check(::fstatfs(fd, &sf), "statfs " + what);
  if (sf.f_type != PROC_SUPER_MAGIC) throw sys::Error(what + " is not on procfs");
}
}  // namespace

std::pair<std::string, std::string> parse_sysctl(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError("invalid --sysctl '" + arg + "': expected KEY=VALUE");
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

void validate_sysctl(const std::string& key, const std::string& net_mode, const std::string& ipc_mode) {
  const auto bad = [&](const std::string& why) { return UsageError("invalid --sysctl '" + key + "': " + why); };
  // Names only: no path tricks ("..", "/") reach /proc/sys.
  if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos)
    throw bad("not a sysctl name");
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') throw bad("not a sysctl name");
  const bool ipc = std::find(std::begin(kIpcSysctls), std::end(kIpcSysctls), key) != std::end(kIpcSysctls) ||
                   key.rfind("fs.mqueue.", 0) == 0;
  if (ipc) {
    if (shared_or_host(ipc_mode)) throw bad("the container does not own its IPC namespace (--ipc " + ipc_mode + ")");
    return;
  }
  if (key.rfind("net.", 0) == 0) {
    if (shared_or_host(net_mode)) throw bad("the container does not own its network namespace (--net " + net_mode + ")");
    return;
  }
  throw bad("not a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)");
}

std::string sysctl_path(const std::string& key) {
  std::string p = key;
  std::replace(p.begin(), p.end(), '.', '/');
  return p;
}

void write_sysctls(const std::map<std::string, std::string>& sysctls) {
  if (sysctls.empty()) return;
  sys::Fd procsys = sys::open_path("/proc/sys", O_PATH | O_DIRECTORY | O_NOFOLLOW);
  check_procfs(procsys.get(), "/proc/sys");
  for (const auto& [key, value] : sysctls) {
    open_how how{};
    how.flags = O_WRONLY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    const std::string rel = sysctl_path(key);
    const int fd = sys::sys_openat2(procsys.get(), rel.c_str(), &how);
    if (fd < 0) {
      const int e = errno;
      throw sys::SysError(e, "sysctl '" + key + "': open /proc/sys/" + rel);
    }
    sys::Fd file(fd);
    check_procfs(file.get(), "/proc/sys/" + rel);
    try {
      sys::write_all(file.get(), value);
    } catch (const sys::SysError& e) {
      throw sys::SysError(e.err(), "sysctl '" + key + "=" + value + "'");
    }
  }
}

}  // namespace nrun::runtime
