#include "runtime/namespaces.hpp"

#include <sched.h>

#include <cerrno>
#include <utility>

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

int namespaces_but_pid() {
  int all = 0;
  for (const auto& ns : join_order())
    if (ns.type != CLONE_NEWPID) all |= ns.type;
  return all;
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
  h.pid = st.pid;
  h.start_time = st.start_time;
  return h;
}

namespace {
// Kernels before 5.8 take only namespace files. They are opened before any
// is joined (after mnt, /proc/PID may be out of reach) and trusted only if
// the pid still belongs to the container after they were opened: the pidfd
// keeps the number from being reused while the process lives.
void join_through_files(const NamespaceHandles& h, int types) {
  std::vector<std::pair<sys::Fd, int>> files;
  for (const auto& ns : join_order()) {
    if (!(types & ns.type)) continue;
    const std::string path = "/proc/" + std::to_string(h.pid) + "/ns/" + ns.name;
    files.emplace_back(sys::open_path(path, O_RDONLY), ns.type);
  }
  if (!sys::process_matches(h.pid, h.start_time)) throw sys::Error("the container's init exited");
  for (const auto& [fd, type] : files) sys::check(::setns(fd.get(), type), "setns");
}

// setns(pidfd): false when the kernel takes only namespace files.
bool join_through_pidfd(const NamespaceHandles& h, int types) {
  if (::setns(h.pidfd.get(), types) == 0) return true;
  if (errno == EINVAL || errno == EBADF) return false;
  const int e = errno;
  throw sys::SysError(e, "setns(pidfd)");
}
}  // namespace

void join_pid_namespace_for_children(const NamespaceHandles& h) {
  sys::assert_single_threaded("join the container's pid namespace");
  if (!join_through_pidfd(h, CLONE_NEWPID)) join_through_files(h, CLONE_NEWPID);
}

void join_namespaces(const NamespaceHandles& h, int types) {
  sys::assert_single_threaded("join container namespaces");
  if (!join_through_pidfd(h, types)) join_through_files(h, types);
}

}  // namespace nrun::runtime
