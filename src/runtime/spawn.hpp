// Cloning the container's init into its new namespaces and holding it on
// the sync socket until the monitor has set up what lives outside
// (cgroup, network), then releasing it to mount its rootfs and execve.
#pragma once
#include <sys/ioctl.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "runtime/cgroup_entry.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/security.hpp"
#include "runtime/sync_socket.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

struct InitArgs {
  RootfsPlan rootfs;
  std::string hostname;
  std::vector<std::string> argv;
  std::vector<std::string> env;
  ProcessSecurity security;  // capabilities, seccomp, user, devices (security.hpp)
  bool tty = false;      // init opens a pty in its own devpts and sends the master
  winsize window{};      // its initial size
  bool new_net = true;   // a fresh network namespace (not host, not shared)
  bool new_uts = true;   // a fresh uts namespace (not --uts host)
  bool new_ipc = true;
  bool new_pid = true;   // false: the monitor has joined the pid namespace to use
  // The container's cgroup: init is cloned into it (v2) or joins it itself,
  // first thing after clone (v1, or when CLONE_INTO_CGROUP fails).
  CgroupEntry cgroup;
  // Namespaces of another container to join after release: (fd, CLONE_NEW*).
  std::vector<std::pair<int, int>> join;
  // stdio for the command when there is no tty (fds in the monitor, inherited)
  int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;
  bool die_with_monitor = false;  // PR_SET_PDEATHSIG for foreground runs
};

// Owns the container's init: kills and reaps it in the destructor unless
// released (crun cleanup_pid).
class ChildPid {
 public:
  ChildPid() = default;
  ChildPid(pid_t pid, sys::Fd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  ChildPid(ChildPid&& o) noexcept : pid_(std::exchange(o.pid_, 0)), pidfd_(std::move(o.pidfd_)) {}
  ChildPid& operator=(ChildPid&& o) noexcept {
    if (this != &o) {
      kill_and_reap();
      pid_ = std::exchange(o.pid_, 0);
      pidfd_ = std::move(o.pidfd_);
    }
    return *this;
  }
  ~ChildPid() { kill_and_reap(); }
  pid_t pid() const { return pid_; }
  const sys::Fd& pidfd() const { return pidfd_; }
  pid_t release() { return std::exchange(pid_, 0); }

 private:
  void kill_and_reap() noexcept;
  pid_t pid_ = 0;
  sys::Fd pidfd_;
};

struct Spawned {
  ChildPid init;
  sys::Fd pty_master;  // when InitArgs::tty
};

// Clones init, calls before_release(pid) while it waits, releases it and
// returns once it has execve()d. An execve or set-up failure inside becomes
// LaunchError (126/127) or Error (125), with init reaped.
Spawned spawn_container(const InitArgs& args, const std::function<void(pid_t)>& before_release);

// Runs `child` in a new process that shares our memory until it execve()s
// or exits (CLONE_VM|CLONE_VFORK, as posix_spawn): no page tables copied and
// no copy-on-write faults afterwards, in it or in us (about 0.5 ms of an
// `nrun exec` here). We are suspended until then. `child` must end in
// execve or _exit and must not change any object it shares with us (close
// a raw fd, never an Fd of ours). Born in the cgroup of `cgroup_fd` when
// it is >= 0 and the kernel can (Linux 5.7+, cgroup v2), `*into_cgroup`
// saying whether it was (else the child must join by itself). Returns the
// pid and fills `pidfd`.
pid_t spawn_sharing_memory(const std::function<void()>& child, int cgroup_fd, bool* into_cgroup, sys::Fd* pidfd,
                           const char* what);

// Docker's mapping of a wait status: the exit code, or 128 + signal.
int exit_code_from_status(int status);

}  // namespace nrun::runtime
