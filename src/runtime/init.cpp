// The only code that runs in the container's init between clone and
// execve. It never returns into the monitor's frames: every path ends in
// execve or _exit, and failures travel back on the sync socket.
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/loopback.hpp"
#include "runtime/capabilities.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/spawn.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {
namespace {
using sys::check;

// The value of PATH in the container's environment.
std::string env_path(const std::vector<std::string>& env) {
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) return e.substr(5);
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

// Opens a pty in the container's own devpts instance (so `tty` names a
// path that exists inside) and sends the master to the monitor.
sys::Fd open_pty(const std::string& rootfs, SyncSocket& sync) {
  sys::Fd master = sys::open_path(rootfs + "/dev/pts/ptmx", O_RDWR | O_NOCTTY);
  int unlock = 0;
  check(::ioctl(master.get(), TIOCSPTLCK, &unlock), "unlock pty");
  const int slave = ::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    const int e = errno;
    throw sys::SysError(e, "open pty peer");
  }
  sync.send(SyncType::pty, master.get());
  return sys::Fd(slave);
}

void set_stdio(int in, int out, int err) {
  const int fds[3] = {in, out, err};
  // dup first, then dup2, in case a source fd is itself 0, 1 or 2.
  int copies[3];
  for (int i = 0; i < 3; ++i) copies[i] = static_cast<int>(check(::fcntl(fds[i], F_DUPFD_CLOEXEC, 3), "dup stdio"));
  for (int i = 0; i < 3; ++i) check(::dup2(copies[i], i), "dup2 stdio");
}

[[noreturn]] void exec_command(const InitArgs& a, SyncSocket& sync) {
  std::vector<char*> argv, envp;
  for (const auto& s : a.argv) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  for (const auto& s : a.env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  const std::string& cmd = a.argv[0];
  if (cmd.find('/') != std::string::npos) {
    ::execve(cmd.c_str(), argv.data(), envp.data());
    const int e = errno;
    sync.send_error(e, e == ENOENT ? 127 : 126, "exec '" + cmd + "': " + std::strerror(e));
    ::_exit(e == ENOENT ? 127 : 126);
  }
  // PATH search as execvpe does, but with the container's PATH and
  // reporting the most telling error.
  int saw_eacces = 0;
  const std::string path = env_path(a.env);
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    std::string dir = path.substr(start, colon - start);
    if (dir.empty()) dir = ".";
    const std::string full = dir + "/" + cmd;
    ::execve(full.c_str(), argv.data(), envp.data());
    if (errno == EACCES) saw_eacces = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR) {
      const int e = errno;
      sync.send_error(e, 126, "exec '" + cmd + "': " + std::strerror(e));
      ::_exit(126);
    }
    start = colon + 1;
  }
  if (saw_eacces) {
    sync.send_error(EACCES, 126, "exec '" + cmd + "': permission denied");
    ::_exit(126);
  }
  sync.send_error(ENOENT, 127, "executable file not found in $PATH: " + cmd);
  ::_exit(127);
}

void init_container(const InitArgs& a, SyncSocket& sync) {
  if (a.die_with_monitor) check(::prctl(PR_SET_PDEATHSIG, SIGKILL), "set parent death signal");
  // Wait until the monitor has placed us in our cgroup and network.
  auto go = sync.receive();
  if (!go || go->type != SyncType::go) ::_exit(125);  // the monitor gave up on us
  // A cgroup namespace made after joining the cgroup shows it as "/".
  check(::unshare(CLONE_NEWCGROUP), "unshare cgroup namespace");
  if (a.new_net) net::bring_up_loopback();
  apply_before_pivot(a.rootfs);
  sys::Fd pty_slave;
  if (a.tty) pty_slave = open_pty(a.rootfs.rootfs, sync);
  pivot_into(a.rootfs.rootfs);
  apply_after_pivot(a.rootfs);
  check(::sethostname(a.hostname.data(), a.hostname.size()), "sethostname");
  check(::setsid(), "setsid");
  if (a.tty) {
    check(::ioctl(pty_slave.get(), TIOCSCTTY, 0), "set controlling terminal");
    set_stdio(pty_slave.get(), pty_slave.get(), pty_slave.get());
  } else {
    set_stdio(a.stdin_fd, a.stdout_fd, a.stderr_fd);
  }
  if (::chdir(a.rootfs.workdir.c_str()) != 0) {
    const int e = errno;
    throw sys::SysError(e, "chdir to working directory '" + a.rootfs.workdir + "'");
  }
  sigset_t none;
  sigemptyset(&none);
  check(::sigprocmask(SIG_SETMASK, &none, nullptr), "reset signal mask");
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
  apply_capabilities(a.capabilities);
  // Everything but stdio and the sync socket is closed by execve; the sync
  // socket too, which tells the monitor the command is running.
  check(::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC), "close_range");
}
}  // namespace

[[noreturn]] void init_main(const InitArgs& args, SyncSocket& sync) noexcept {
  try {
    init_container(args, sync);
    exec_command(args, sync);
  } catch (const std::system_error& e) {
    sync.send_error(e.code().value(), 125, e.what());
  } catch (const std::exception& e) {
    sync.send_error(0, 125, e.what());
  } catch (...) {
    sync.send_error(0, 125, "container init failed");
  }
  ::_exit(125);
}

}  // namespace nrun::runtime
