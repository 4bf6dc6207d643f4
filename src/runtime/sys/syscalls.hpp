// Thin shims for syscalls glibc 2.36 does not wrap.
#pragma once
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace nrun::sys {

inline long sys_clone3(struct clone_args* args) { return ::syscall(SYS_clone3, args, sizeof(*args)); }
inline int sys_pidfd_open(pid_t pid, unsigned flags = 0) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}
inline int sys_pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}
inline int sys_pivot_root(const char* new_root, const char* put_old) {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}
// A RESOLVE_BENEATH/RESOLVE_IN_ROOT lookup through ".." fails with EAGAIN
// when any rename or mount on the system raced it (the kernel cannot rule
// out an escape), so anyone renaming in a loop, a container included, could
// fail nrun's lookups at will: EAGAIN is retried, a bounded number of times.
inline int sys_openat2(int dirfd, const char* path, struct open_how* how) {
  constexpr int kEagainRetries = 128;
  for (int attempt = 0;; ++attempt) {
    const int fd = static_cast<int>(::syscall(SYS_openat2, dirfd, path, how, sizeof(*how)));
    if (fd >= 0 || errno != EAGAIN || attempt == kEagainRetries) return fd;
  }
}

}  // namespace nrun::sys
