// Joining the namespaces of a running container: with one setns() on a
// pidfd (Linux 5.8+), or one /proc/PID/ns/* file at a time on older kernels.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "runtime/state.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

struct NamespaceFile {
  const char* name;  // under /proc/PID/ns
  int type;          // CLONE_NEW*
};

// The order in which namespaces are joined one by one (youki's order; user
// namespaces are not used): pid, uts, ipc, net, cgroup, and mnt last, since
// after it /proc/PID may no longer be reachable.
const std::vector<NamespaceFile>& join_order();

// A pidfd for the container's init, only when the pid still belongs to it
// (start time checked after opening, so a reused pid is never entered).
// Empty when the container is not running.
sys::Fd open_init_pidfd(const ContainerState& st);

// Everything needed to join, opened up front in the caller.
struct NamespaceHandles {
  sys::Fd pidfd;
  std::vector<std::pair<sys::Fd, int>> files;  // fallback, in join_order()
};
NamespaceHandles open_namespaces(const ContainerState& st, const std::string& name);

// Joins them all (single-threaded caller; the pid namespace applies to the
// caller's children).
void join_namespaces(const NamespaceHandles& h);

}  // namespace nrun::runtime
