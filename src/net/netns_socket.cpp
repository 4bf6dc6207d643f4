#include "net/netns_socket.hpp"

#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "runtime/sys/clone_vm.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::net {

namespace {
// What the child is asked and what it answers, in memory we share.
struct Request {
  int netns;
  int domain, type, protocol;
  int fd = -1;
  int err = 0;
  const char* step = nullptr;
};

// The child: two syscalls, nothing that allocates or takes a lock (it runs on
// our memory while we are suspended), and it returns only to exit.
int child(void* arg) {
  auto* r = static_cast<Request*>(arg);
  if (::syscall(SYS_setns, r->netns, CLONE_NEWNET) != 0) {
    r->err = errno;
    r->step = "join the network namespace";
    return 1;
  }
  const long fd = ::syscall(SYS_socket, r->domain, r->type | SOCK_CLOEXEC, r->protocol);
  if (fd < 0) {
    r->err = errno;
    r->step = "open a socket in the network namespace";
    return 1;
  }
  r->fd = static_cast<int>(fd);
  return 0;
}

// Two syscalls and glibc's syscall() need little; a page would do.
constexpr size_t kStackSize = 64 * 1024;
}  // namespace

sys::Fd open_socket_in(const sys::Fd& netns, int domain, int type, int protocol) {
  Request req{netns.get(), domain, type, protocol};
  auto stack = std::make_unique<unsigned char[]>(kStackSize);
  clone_args ca{};
  ca.flags = CLONE_VM | CLONE_FILES | CLONE_VFORK;
  ca.exit_signal = SIGCHLD;
  ca.stack = reinterpret_cast<uint64_t>(stack.get());
  ca.stack_size = kStackSize;
  long pid = sys::clone3_run(&ca, child, &req);
  // No clone3 (before Linux 5.3) or no assembly for this architecture.
  if (pid < 0 && errno == ENOSYS)
    pid = ::clone(child, stack.get() + kStackSize, CLONE_VM | CLONE_FILES | CLONE_VFORK | SIGCHLD, &req);
  sys::check(pid, "clone a child to open a socket in a network namespace");
  // CLONE_VFORK: the child has exited by now; reap it.
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
  }
  sys::Fd fd(req.fd);  // ours whatever happened next
  if (req.err) throw sys::SysError(req.err, req.step);
  if (!fd) throw sys::Error("open a socket in a network namespace: the child died before it could");
  return fd;
}

}  // namespace nrun::net
