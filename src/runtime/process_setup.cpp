#include "runtime/process_setup.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/capabilities.hpp"
#include "runtime/exec_trampoline.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::runtime {
using sys::check;
using sys::Fd;

namespace {
std::string env_path(const std::vector<std::string>& env) {
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) return e.substr(5);
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

[[noreturn]] void fail(SyncSocket& sync, int err, int code, const std::string& msg) {
  sync.send_error(err, code, msg);
  ::_exit(code);
}

void switch_user(const UserIds& u) {
  check(::setgroups(u.groups.size(), u.groups.data()), "setgroups");
  check(::setgid(u.gid), "setgid " + std::to_string(u.gid));
  check(::setuid(u.uid), "setuid " + std::to_string(u.uid));
}

// The working directory is resolved inside the root like every other path
// of the image (so `-w /proc/self/fd/N` or a symlink out cannot lead
// elsewhere), entered through the fd, and checked afterwards: the kernel's
// getcwd names a directory outside the root "(unreachable)/..." (the check
// runc added for CVE-2024-21626).
void enter_workdir(const std::string& workdir) {
  Fd root = sys::open_path("/", O_PATH | O_DIRECTORY);
  Fd dir;
  try {
    dir = open_in_root(root.get(), workdir, false);
  } catch (const sys::SysError& e) {
    throw sys::SysError(e.err(), "working directory '" + workdir + "'");
  }
  check(::fchdir(dir.get()), "chdir to working directory '" + workdir + "'");
  char buf[4096];
  const long n = ::syscall(SYS_getcwd, buf, sizeof buf);
  if (n <= 0 || buf[0] != '/')
    throw sys::SysError(ENOENT, "working directory '" + workdir + "' is outside the container's root");
}

// The file the command names: itself when it has a slash, else the first
// executable regular file of that name in the container's PATH (execvpe's
// search, but in the container's PATH and keeping the most telling error: a
// file that exists but cannot run is 126, none is 127).
std::string find_executable(const ProcessSetup& p, SyncSocket& sync) {
  const std::string& cmd = p.argv.at(0);
  if (cmd.find('/') != std::string::npos) return cmd;
  int denied = 0;
  const std::string path = env_path(p.env);
  for (size_t start = 0; start <= path.size();) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    const std::string dir = path.substr(start, colon - start);
    std::string full = (dir.empty() ? "." : dir) + "/" + cmd;
    start = colon + 1;
    struct stat st;
    if (::stat(full.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      const int e = errno;
      fail(sync, e, 126, "exec '" + cmd + "': " + std::strerror(e));
    }
    if (S_ISREG(st.st_mode) && ::faccessat(AT_FDCWD, full.c_str(), X_OK, AT_EACCESS) == 0) return full;
    denied = EACCES;
  }
  if (denied) fail(sync, denied, 126, "exec '" + cmd + "': permission denied");
  fail(sync, ENOENT, 127, "executable file not found in $PATH: " + cmd);
}

// Never an execve of the command from nrun's own image: see
// exec_trampoline.hpp. A failed execve of the command itself is reported by
// the trampoline, on `sync`.
[[noreturn]] void exec_with_path_search(const ProcessSetup& p, SyncSocket& sync) {
  std::vector<char*> argv, envp;
  for (const auto& s : p.argv) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  for (const auto& s : p.env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  const std::string file = find_executable(p, sync);
  exec_through_trampoline(sync.fd(), file, argv, envp);
  const int e = errno;
  fail(sync, e, 125, std::string("exec the exec trampoline: ") + std::strerror(e));
}
}  // namespace

winsize caller_window_size() {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) {
    ws.ws_row = 24;
    ws.ws_col = 80;
  }
  return ws;
}

sys::Fd open_pty(const std::string& ptmx, const winsize& size, SyncSocket& sync) {
  sys::Fd master = sys::open_path(ptmx, O_RDWR | O_NOCTTY);
  int unlock = 0;
  check(::ioctl(master.get(), TIOCSPTLCK, &unlock), "unlock pty");
  check(::ioctl(master.get(), TIOCSWINSZ, &size), "set pty window size");
  const int slave = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    const int e = errno;
    throw sys::SysError(e, "open pty peer");
  }
  sync.send(SyncType::pty, master.get());
  return sys::Fd(slave);
}

void set_session_and_stdio(const sys::Fd& pty_slave, int in, int out, int err) {
  check(::setsid(), "setsid");
  if (pty_slave) {
    check(::ioctl(pty_slave.get(), TIOCSCTTY, 0), "set controlling terminal");
    in = out = err = pty_slave.get();
  }
  // dup first, then dup2, in case a source fd is itself 0, 1 or 2.
  const int fds[3] = {in, out, err};
  int copies[3];
  for (int i = 0; i < 3; ++i) copies[i] = static_cast<int>(check(::fcntl(fds[i], F_DUPFD_CLOEXEC, 3), "dup stdio"));
  for (int i = 0; i < 3; ++i) check(::dup2(copies[i], i), "dup2 stdio");
}

ProcessSetup make_process_setup(std::vector<std::string> argv, std::vector<std::string> env, std::string workdir,
                                const ProcessSecurity& security, const std::string& user) {
  ProcessSetup p;
  p.argv = std::move(argv);
  p.env = std::move(env);
  p.workdir = std::move(workdir);
  p.capabilities = security.capabilities;
  p.no_new_privileges = security.no_new_privileges;
  p.seccomp = security.seccomp;
  p.user = resolve_user_in_current_root(user.empty() ? security.user : user, security.group_add);
  return p;
}

void finish_and_exec(const ProcessSetup& p, SyncSocket& sync) {
  try {
    enter_workdir(p.workdir);
    sigset_t none;
    sigemptyset(&none);
    check(::sigprocmask(SIG_SETMASK, &none, nullptr), "reset signal mask");
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
    drop_bounding_set(p.capabilities);
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
    // the user switch and capset below take away: install it now (it must
    // then allow what follows, as runc's must).
    if (!p.no_new_privileges) load_seccomp(p.seccomp);
    if (p.user) switch_user(*p.user);
    set_process_capabilities(p.user && p.user->uid != 0 ? 0 : p.capabilities);
    if (p.no_new_privileges) check(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs");
    // Everything but stdio closes at execve: the sync socket too, which
    // tells the monitor the command is running.
    check(::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC), "close_range");
    // Last, so that nothing nrun does is subject to it but execve itself.
    if (p.no_new_privileges) load_seccomp(p.seccomp);
  } catch (const std::system_error& e) {
    fail(sync, e.code().value(), 125, e.what());
  } catch (const std::exception& e) {
    fail(sync, 0, 125, e.what());
  }
  exec_with_path_search(p, sync);
}

}  // namespace nrun::runtime
