/* The last step of every process nrun starts in a container (init and each
 * `nrun exec`): nrun's own process execs this tiny program from a sealed
 * memfd, and this program execs the container's command.
 *
 * Why: until its execve, a process nrun starts in a container is nrun's own
 * image, so /proc/self/exe is the host's nrun binary. If the command it
 * execs is a script "#!/proc/self/exe", or an ELF whose interpreter is
 * /proc/self/exe, the kernel would run the host binary inside the container,
 * under the container's own ld.so, which then holds an fd to the host file
 * (runc's CVE-2019-5736). Exec'd from here instead, /proc/self/exe is this
 * program's sealed memfd: the worst a container can do is run it again.
 * runc's runc-dmz took the same route. Nothing of nrun is re-exec'd.
 *
 * No libc: a static ET_EXEC of a few hundred bytes of code, so its exec
 * costs little more than the page tables of one mapping.
 *
 * argv: [ tag, SYNC_FD, PATH, ARGV0, ARGV1, ... ]
 *   SYNC_FD  nrun's sync socket (decimal), left open across the first exec;
 *            marked close-on-exec here, so the command's execve closes it.
 *            An "executing" message goes first: EOF after it tells nrun the
 *            command runs, EOF without it that the process died in set-up.
 *   PATH     the file to exec, already searched in the container's PATH.
 * On failure a message of the sync protocol (sync_wire.h) goes to SYNC_FD,
 * and the exit status is 127 (not found) or 126, as a shell's.
 */
#include "sync_wire.h"


#if defined(__x86_64__)
#define NR_sendto 44
#define NR_fcntl 72
#define NR_prctl 157
#define NR_execve 59
#define NR_exit_group 231
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call trampoline_main\n"
    "  hlt\n");
#elif defined(__aarch64__)
#define NR_sendto 206
#define NR_fcntl 25
#define NR_prctl 167
#define NR_execve 221
#define NR_exit_group 94
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "  mov x0, sp\n"
    "  bl trampoline_main\n"
    "  brk #0\n");
#else
#error "exec_trampoline: no syscall glue for this architecture"
#endif

#define F_SETFD 2
#define FD_CLOEXEC 1
#define PR_SET_DUMPABLE 4
#define ENOENT 2
#define MSG_NOSIGNAL 0x4000

static long sys3(long n, long a, long b, long c) { return sys6(n, a, b, c, 0, 0, 0); }

/* A message on the sync socket; MSG_NOSIGNAL, so a monitor that is gone
 * costs an error, not a SIGPIPE. */
static void send_sync(int sync, const struct nrun_sync_wire* m) {
  sys6(NR_sendto, sync, (long)m, sizeof *m, MSG_NOSIGNAL, 0, 0);
}


static __attribute__((noreturn)) void exit_group(int code) {
  for (;;) sys3(NR_exit_group, code, 0, 0);
}

static int parse_fd(const char* s) {
  long v = 0;
  if (!s || !*s) return -1;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || v > 1000000) return -1;
    v = v * 10 + (*s - '0');
  }
  return (int)v;
}

__attribute__((noreturn, used)) void trampoline_main(long* sp) {
  const long argc = sp[0];
  char** argv = (char**)(sp + 1);
  char** envp = argv + argc + 1;
  /* Fewer than tag, fd, path and argv0: not started by nrun (a container
   * running /proc/self/exe, say). Nothing to do. */
  const int sync = argc >= 4 ? parse_fd(argv[1]) : -1;
  if (sync < 0) exit_group(126);
  /* Nothing in the container may ptrace this process while it holds the
   * sync socket; the command's execve makes it dumpable again. */
  sys3(NR_prctl, PR_SET_DUMPABLE, 0, 0);
  if (sys3(NR_fcntl, sync, F_SETFD, FD_CLOEXEC) < 0) exit_group(126);
  struct nrun_sync_wire m;
  char* p = (char*)&m;
  for (unsigned long i = 0; i < sizeof m; ++i) p[i] = 0;
  m.type = NRUN_SYNC_EXECUTING;
  send_sync(sync, &m);
  const long err = -sys3(NR_execve, (long)argv[2], (long)(argv + 3), (long)envp);

  m.type = NRUN_SYNC_EXEC_FAILED;
  m.err = (int)err;
  m.exit_code = err == ENOENT ? 127 : 126;
  const char* path = argv[2];
  for (unsigned long i = 0; path[i] && i < sizeof m.text - 1; ++i) m.text[i] = path[i];
  send_sync(sync, &m);
  exit_group(m.exit_code);
}
