// A static probe the integration tests run inside containers: it reports
// what the container's process sees or may do, one fact per line, so tests
// need not parse busybox output. Every subcommand prints "name value" lines
// where value is 0 for success or the errno of the failure.
//
//   probe fds                 open fds, before the probe opens any: "fds 0 1 2"
//   probe status              CapInh/CapPrm/CapEff/CapBnd/CapAmb/NoNewPrivs/Seccomp lines
//   probe syscalls            each interesting syscall and its errno
//   probe cwd                 the kernel's getcwd (shows "(unreachable)" outside the root)
//   probe open PATH MODE      MODE r|w: open and read/write one byte
//   probe mknod-read PATH MAJ MIN   mknod a block device, then read it
//   probe watch-exe SECS      try /proc/*/exe of every other process for SECS
//   probe sleep SECS
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <string>

namespace {
int result(long rc) { return rc < 0 ? errno : 0; }
void report(const char* name, int err) { printf("%s %d\n", name, err); }

int in_child(int (*fn)()) {
  // Calls that change the process (unshare) run in a child.
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

void* thread_main(void*) { return reinterpret_cast<void*>(42); }

int fds() {
  printf("fds");
  for (int fd = 0; fd < 4096; ++fd)
    if (fcntl(fd, F_GETFD) != -1) printf(" %d", fd);
  printf("\n");
  return 0;
}

int status() {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return 1;
  char line[512];
  while (fgets(line, sizeof line, f))
    for (const char* key : {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:", "Groups:", "Uid:", "Gid:"})
      if (strncmp(line, key, strlen(key)) == 0) fputs(line, stdout);
  fclose(f);
  return 0;
}

int syscalls() {
  report("keyctl", result(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)));
  report("add_key", result(syscall(SYS_add_key, "user", "nrun-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING)));
  report("request_key", result(syscall(SYS_request_key, "user", "nrun-probe", nullptr, 0)));
  report("unshare_user", in_child([] { return result(unshare(CLONE_NEWUSER)); }));
  report("unshare_net", in_child([] { return result(unshare(CLONE_NEWNET)); }));
  report("clone3", result(syscall(SYS_clone3, nullptr, 0)));
  report("mount", in_child([] { return result(mount("probe", "/tmp", "tmpfs", 0, "")); }));
  report("umount2", result(umount2("/proc", MNT_DETACH)) == 0 ? 0 : errno);
  report("pivot_root", result(syscall(SYS_pivot_root, "/tmp", "/tmp")));
  report("userfaultfd", result(syscall(SYS_userfaultfd, 0)));
  report("io_uring_setup", result(syscall(SYS_io_uring_setup, 1, nullptr)));
  report("perf_event_open", result(syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0)));
  report("bpf", result(syscall(SYS_bpf, 0, nullptr, 0)));
  report("kexec_load", result(syscall(SYS_kexec_load, 0, 0, nullptr, 0)));
  report("open_by_handle_at", result(syscall(SYS_open_by_handle_at, -1, nullptr, 0)));
  report("personality_query", result(syscall(SYS_personality, 0xffffffffUL)));
  report("personality_linux", result(syscall(SYS_personality, 0UL)));
  report("personality_no_randomize", result(syscall(SYS_personality, static_cast<unsigned long>(ADDR_NO_RANDOMIZE))));
  report("personality_odd", result(syscall(SYS_personality, 0x4000ffUL)));
  report("clock_settime", result(syscall(SYS_clock_settime, CLOCK_REALTIME, nullptr)));
  pthread_t t;
  void* ret = nullptr;
  int err = pthread_create(&t, nullptr, thread_main, nullptr);
  if (err == 0) err = pthread_join(t, &ret) ?: (ret == reinterpret_cast<void*>(42) ? 0 : EINVAL);
  report("pthread", err);
  report("fork", in_child([] { return 0; }));
  return 0;
}

int cwd() {
  char buf[4096];
  const long n = syscall(SYS_getcwd, buf, sizeof buf);
  if (n < 0) return report("cwd", errno), 0;
  printf("cwd %s\n", buf);
  return 0;
}

int open_path(const char* path, const char* mode) {
  const bool write_mode = mode[0] == 'w';
  const int fd = open(path, (write_mode ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return report("open", errno), 0;
  report("open", 0);
  char c = 'x';
  const ssize_t n = write_mode ? write(fd, &c, 1) : read(fd, &c, 1);
  report(write_mode ? "write" : "read", n < 0 ? errno : 0);
  if (!write_mode) printf("bytes %zd\n", n);
  close(fd);
  return 0;
}

int mknod_read(const char* path, int major_n, int minor_n) {
  report("mknod", result(mknod(path, S_IFBLK | 0600, makedev(major_n, minor_n))));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  report("open", fd < 0 ? errno : 0);
  if (fd >= 0) {
    char buf[512];
    report("read", read(fd, buf, sizeof buf) < 0 ? errno : 0);
    close(fd);
  }
  return 0;
}

// Every other process's exe link: readable (and openable for writing) only
// if the process is dumpable and ours to ptrace. Prints what it got.
int watch_exe(int secs) {
  const time_t end = time(nullptr) + secs;
  const pid_t self = getpid();
  long tries = 0;
  while (time(nullptr) < end) {
    DIR* d = opendir("/proc");
    if (!d) return 1;
    while (dirent* e = readdir(d)) {
      const int pid = atoi(e->d_name);
      if (pid <= 1 || pid == self) continue;
      const std::string exe = "/proc/" + std::string(e->d_name) + "/exe";
      char target[4096];
      const ssize_t n = readlink(exe.c_str(), target, sizeof target - 1);
      ++tries;
      if (n < 0) continue;
      target[n] = 0;
      // nrun's exec trampoline runs from a sealed memfd: reaching it is
      // harmless as long as it cannot be written.
      if (strncmp(target, "/memfd:", 7) == 0) {
        const int fd = open(exe.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
          if (pwrite(fd, "x", 1, 0) == 1) printf("writable %d %s\n", pid, target);
          close(fd);
        }
        continue;
      }
      if (strstr(target, "nrun")) printf("readable %d %s\n", pid, target);
      const int fd = open(exe.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        printf("writable %d %s\n", pid, target);
        close(fd);
      }
    }
    closedir(d);
  }
  printf("tries %ld\n", tries);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "fds") return fds();
  if (cmd == "status") return status();
  if (cmd == "syscalls") return syscalls();
  if (cmd == "cwd") return cwd();
  if (cmd == "open" && argc == 4) return open_path(argv[2], argv[3]);
  if (cmd == "mknod-read" && argc == 5) return mknod_read(argv[2], atoi(argv[3]), atoi(argv[4]));
  if (cmd == "watch-exe" && argc == 3) return watch_exe(atoi(argv[2]));
  if (cmd == "sleep" && argc == 3) return sleep(static_cast<unsigned>(atoi(argv[2]))), 0;
  fprintf(stderr, "usage: probe fds|status|syscalls|cwd|open PATH r|w|mknod-read PATH MAJ MIN|watch-exe SECS|sleep SECS\n");
  return 2;
}
