// Joining the namespaces of a running container: with one setns() on a
// pidfd (Linux 5.8+), or one /proc/PID/ns/* file at a time on older kernels.
#pragma once
#include <sys/types.h>

#include <cstdint>
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
// Every namespace nrun joins but the pid one (which applies to children).
int namespaces_but_pid();

// A pidfd for the container's init, only when the pid still belongs to it
// (start time checked after opening, so a reused pid is never entered).
// Empty when the container is not running.
sys::Fd open_init_pidfd(const ContainerState& st);

// A running container's init, pinned by a pidfd: what joining needs.
struct NamespaceHandles {
  sys::Fd pidfd;
  pid_t pid = 0;
  uint64_t start_time = 0;
};
// Throws UsageError "container 'NAME' is not running" when it is not.
NamespaceHandles open_namespaces(const ContainerState& st, const std::string& name);

// The caller's children are born in the container's pid namespace; the
// caller itself stays where it is (setns(CLONE_NEWPID) moves no one).
void join_pid_namespace_for_children(const NamespaceHandles& h);
// Joins the namespaces in `types` (CLONE_NEW* bits; mnt last), as one
// setns(pidfd) or, before Linux 5.8, through /proc/PID/ns/* files, all
// opened first and checked against the start time. Single-threaded caller.
void join_namespaces(const NamespaceHandles& h, int types);

}  // namespace nrun::runtime
