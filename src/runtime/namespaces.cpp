#include "runtime/namespaces.hpp"

#include <sched.h>

#include <cerrno>

#include "runtime/sys/error.hpp"
#include "runtime/sys/proc.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {

const std::vector<NamespaceFile>& join_order() {
  static const std::vector<NamespaceFile> kOrder = {{"pid", CLONE_NEWPID},       {"uts", CLONE_NEWUTS},
                                                    {"ipc", CLONE_NEWIPC},       {"net", CLONE_NEWNET},
                                                    {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS}};
  return kOrder;
}

sys::Fd open_init_pidfd(const ContainerState& st) {
  if (!is_alive(st)) return sys::Fd();
  sys::Fd pidfd(sys::sys_pidfd_open(st.pid));
  if (!pidfd || !sys::process_matches(st.pid, st.start_time)) return sys::Fd();
  return pidfd;
}

NamespaceHandles open_namespaces(const ContainerState& st, const std::string& name) {
  NamespaceHandles h;
  h.pidfd = open_init_pidfd(st);
  if (!h.pidfd) throw sys::UsageError("container '" + name + "' is not running");
  // Opened now, while the pidfd pins the process: the files cannot belong to
  // a process that reused the pid. Used only where setns(pidfd) is missing.
  for (const auto& ns : join_order()) {
    const std::string path = "/proc/" + std::to_string(st.pid) + "/ns/" + ns.name;
    h.files.emplace_back(sys::open_path(path, O_RDONLY), ns.type);
  }
  if (!sys::process_matches(st.pid, st.start_time))
    throw sys::UsageError("container '" + name + "' is not running");
  return h;
}

void join_namespaces(const NamespaceHandles& h) {
  sys::assert_single_threaded("join container namespaces");
  int all = 0;
  for (const auto& ns : join_order()) all |= ns.type;
  if (::setns(h.pidfd.get(), all) == 0) return;
  if (errno != EINVAL && errno != EBADF) {
    const int e = errno;
    throw sys::SysError(e, "setns(pidfd)");
  }
  // Kernels before 5.8 take only namespace files.
  for (const auto& [fd, type] : h.files) sys::check(::setns(fd.get(), type), "setns");
}

}  // namespace nrun::runtime
