#include "runtime/spawn.hpp"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>

#include "runtime/launch_error.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {

[[noreturn]] void init_main(const InitArgs& args, SyncSocket& sync) noexcept;  // init.cpp

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

namespace {
// clone3 without a stack behaves like fork; the child returns 0 here.
pid_t clone_init(uint64_t flags, int* pidfd) {
  clone_args ca{};
  ca.flags = flags | CLONE_PIDFD;
  ca.pidfd = reinterpret_cast<uint64_t>(pidfd);
  ca.exit_signal = SIGCHLD;
  long pid = sys::sys_clone3(&ca);
  if (pid < 0 && errno == ENOSYS) {
    // Kernels before 5.3: clone(2) with a null stack is fork-like too.
    pid = ::syscall(SYS_clone, flags | CLONE_PIDFD | SIGCHLD, nullptr, pidfd, nullptr, 0);
  }
  return static_cast<pid_t>(sys::check(pid, "clone container init"));
}
}  // namespace

Spawned spawn_container(const InitArgs& args, const std::function<void(pid_t)>& before_release) {
  auto [monitor_end, init_end] = make_sync_pair();
  uint64_t flags = CLONE_NEWNS;
  if (args.new_pid) flags |= CLONE_NEWPID;
  if (args.new_uts) flags |= CLONE_NEWUTS;
  if (args.new_ipc) flags |= CLONE_NEWIPC;
  if (args.new_net) flags |= CLONE_NEWNET;
  std::fflush(nullptr);  // buffered output must not be written twice
  int pidfd = -1;
  const pid_t pid = clone_init(flags, &pidfd);
  if (pid == 0) {
    monitor_end.close();
    init_main(args, init_end);
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
