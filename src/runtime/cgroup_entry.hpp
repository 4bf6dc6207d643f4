// How a new process of a container — its init, an exec'd process — enters
// the container's cgroup. Kept apart from cgroup.hpp so that the launch code
// (spawn, init, exec) needs nothing of the drivers.
#pragma once
#include <string>
#include <vector>

#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

// How a new process (init, an exec'd one) enters a container's cgroup. The
// cheap ways first: a task move that takes the kernel's global threadgroup
// lock (writing a pid to cgroup.procs, on v1 and v2 alike) waits for an RCU
// grace period, ~7 ms on this 2-core machine, while a single-threaded process
// that writes "0" into v1's `tasks` moves only itself and skips that lock
// (cgroup_procs_write_start), and a v2 child made with
// clone3(CLONE_INTO_CGROUP) is born inside and moves not at all.
struct CgroupEntry {
  std::vector<std::string> dirs;  // the container's directories: one per v1 hierarchy, or the v2 one
  // Files a single-threaded process writes "0" into to move itself in:
  // v1's `tasks`; v2's cgroup.procs, the fallback when clone_into fails.
  std::vector<std::string> self_join;
  std::string clone_into;  // v2: the directory for clone3(CLONE_INTO_CGROUP); empty on v1
};

// Moves the calling process in by writing "0" into each of entry.self_join.
// The caller must be single-threaded: on v1 only the calling thread moves.
void join_cgroup_self(const CgroupEntry& entry);
// An O_PATH fd on entry.clone_into for clone3(CLONE_INTO_CGROUP); an empty
// Fd when there is none to use (v1, no cgroup).
sys::Fd open_clone_into(const CgroupEntry& entry);

}  // namespace nrun::runtime
