#include "runtime/spawn.hpp"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/launch_error.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {

// init.cpp; born_in_cgroup: clone3 placed init in its cgroup already.
[[noreturn]] void init_main(const InitArgs& args, bool born_in_cgroup, SyncSocket& sync) noexcept;

void ChildPid::kill_and_reap() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
}

int exit_code_from_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// clone3 without a stack behaves like fork; the child returns 0 here.
pid_t clone_child(uint64_t flags, int* pidfd, int cgroup_fd, bool* into_cgroup, const char* what) {
  if (pidfd) flags |= CLONE_PIDFD;
  clone_args ca{};
  ca.flags = flags;
  ca.pidfd = reinterpret_cast<uint64_t>(pidfd);
  ca.exit_signal = SIGCHLD;
  long pid = -1;
  *into_cgroup = cgroup_fd >= 0;
  if (*into_cgroup) {
    clone_args in = ca;
    in.flags |= CLONE_INTO_CGROUP;
    in.cgroup = static_cast<uint64_t>(cgroup_fd);
    pid = sys::sys_clone3(&in);
    if (pid < 0) {
      log::debug(std::string(what) + ": clone3 into the cgroup: " + std::strerror(errno) + "; it joins by itself");
      *into_cgroup = false;
    }
  }
  if (!*into_cgroup) pid = sys::sys_clone3(&ca);
  if (pid < 0 && errno == ENOSYS) {
    // Kernels before 5.3: clone(2) with a null stack is fork-like too.
    pid = ::syscall(SYS_clone, flags | SIGCHLD, nullptr, pidfd, nullptr, 0);
  }
  return static_cast<pid_t>(sys::check(pid, what));
}

Spawned spawn_container(const InitArgs& args, const std::function<void(pid_t)>& before_release) {
  auto [monitor_end, init_end] = make_sync_pair();
  uint64_t flags = CLONE_NEWNS;
  if (args.new_pid) flags |= CLONE_NEWPID;
  if (args.new_uts) flags |= CLONE_NEWUTS;
  if (args.new_ipc) flags |= CLONE_NEWIPC;
  if (args.new_net) flags |= CLONE_NEWNET;
  std::fflush(nullptr);  // buffered output must not be written twice
  int pidfd = -1;
  const sys::Fd cgroup_fd = open_clone_into(args.cgroup);
  bool into_cgroup = false;
  const pid_t pid = clone_child(flags, &pidfd, cgroup_fd.get(), &into_cgroup, "clone container init");
  if (pid == 0) {
    monitor_end.close();
    init_main(args, into_cgroup, init_end);
  }
  init_end.close();
  Spawned out{ChildPid(pid, sys::Fd(pidfd)), sys::Fd()};
  log::debug("cloned container init as pid " + std::to_string(pid));
  before_release(pid);
  monitor_end.send(SyncType::go);
  while (auto msg = monitor_end.receive(&out.pty_master)) {
    if (msg->type == SyncType::pty) continue;
    if (msg->type == SyncType::error) {
      if (msg->exit_code == 126 || msg->exit_code == 127) throw LaunchError(msg->exit_code, msg->message());
      throw sys::Error(msg->message());
    }
  }
  return out;
}

}  // namespace nrun::runtime
