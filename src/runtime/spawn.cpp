#include "runtime/spawn.hpp"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/exec_trampoline.hpp"
#include "runtime/launch_error.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/clone_vm.hpp"
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

namespace {
// One clone3, into the cgroup of `cgroup_fd` when it is >= 0 and the kernel
// can (Linux 5.7+, cgroup v2); otherwise, or when the kernel refuses, again
// without it, and `*into_cgroup` turns false: the child joins by itself.
// `call` is the clone3 to make (fork-like, or on a stack of its own).
template <class Clone3>
long clone3_into_cgroup(const clone_args& ca, int cgroup_fd, bool* into_cgroup, const char* what, Clone3&& call) {
  *into_cgroup = cgroup_fd >= 0;
  if (*into_cgroup) {
    clone_args in = ca;
    in.flags |= CLONE_INTO_CGROUP;
    in.cgroup = static_cast<uint64_t>(cgroup_fd);
    const long pid = call(&in);
    if (pid >= 0) return pid;
    log::debug(std::string(what) + ": clone3 into the cgroup: " + std::strerror(errno) + "; it joins by itself");
    *into_cgroup = false;
  }
  clone_args plain = ca;
  return call(&plain);
}

// clone3 without a stack behaves like fork; the child returns 0 here.
pid_t clone_child(uint64_t flags, int* pidfd, int cgroup_fd, bool* into_cgroup, const char* what) {
  clone_args ca{};
  ca.flags = flags | CLONE_PIDFD;
  ca.pidfd = reinterpret_cast<uint64_t>(pidfd);
  ca.exit_signal = SIGCHLD;
  long pid = clone3_into_cgroup(ca, cgroup_fd, into_cgroup, what, [](clone_args* a) { return sys::sys_clone3(a); });
  if (pid < 0 && errno == ENOSYS) {
    // Kernels before 5.3: clone(2) with a null stack is fork-like too.
    pid = ::syscall(SYS_clone, flags | CLONE_PIDFD | SIGCHLD, nullptr, pidfd, nullptr, 0);
  }
  return static_cast<pid_t>(sys::check(pid, what));
}

// Enough for the exec path (user lookup, exceptions), with a guard page.
constexpr size_t kSharedStackSize = 512 * 1024;

int run_shared_child(void* arg) {
  (*static_cast<const std::function<void()>*>(arg))();
  ::_exit(125);  // `child` must not return
}

// The child's stack, unmapped when we resume (the child no longer uses it).
class ChildStack {
 public:
  ChildStack() {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    size_ = kSharedStackSize + page;
    base_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base_ == MAP_FAILED) {
      const int e = errno;
      throw sys::SysError(e, "mmap child stack");
    }
    ::mprotect(base_, page, PROT_NONE);  // stacks grow down: the guard is at the bottom
  }
  ~ChildStack() { ::munmap(base_, size_); }
  void* bottom() const { return base_; }
  size_t size() const { return size_; }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  void* top() const { return static_cast<char*>(base_) + size_; }

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
};
}  // namespace

pid_t spawn_sharing_memory(const std::function<void()>& child, int cgroup_fd, bool* into_cgroup, sys::Fd* pidfd,
                           const char* what) {
  ChildStack stack;
  void* arg = const_cast<std::function<void()>*>(&child);
  int fd = -1;
  clone_args ca{};
  ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD;
  ca.pidfd = reinterpret_cast<uint64_t>(&fd);
  ca.exit_signal = SIGCHLD;
  ca.stack = reinterpret_cast<uint64_t>(stack.bottom());
  ca.stack_size = stack.size();
  long pid = clone3_into_cgroup(ca, cgroup_fd, into_cgroup, what,
                                [&](clone_args* a) { return sys::clone3_run(a, run_shared_child, arg); });
  // No clone3 (before Linux 5.3) or no assembly for this architecture.
  if (pid < 0 && errno == ENOSYS)
    pid = ::clone(run_shared_child, stack.top(), CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, arg, &fd);
  sys::check(pid, what);
  pidfd->reset(fd);
  return static_cast<pid_t>(pid);
}

Spawned spawn_container(const InitArgs& args, const std::function<void(pid_t)>& before_release) {
  auto [monitor_end, init_end] = make_sync_pair();
  uint64_t flags = CLONE_NEWNS;
  if (args.new_pid) flags |= CLONE_NEWPID;
  if (args.new_uts) flags |= CLONE_NEWUTS;
  if (args.new_ipc) flags |= CLONE_NEWIPC;
  if (args.new_net) flags |= CLONE_NEWNET;
  std::fflush(nullptr);  // buffered output must not be written twice
  prepare_exec_trampoline();
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
  await_exec(monitor_end, &out.pty_master, "the container's init");
  return out;
}

}  // namespace nrun::runtime
