#include "runtime/monitor.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {
using sys::check;

namespace {
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// Reads what is there; returns false at EOF or on a dead pty (EIO).
bool pump(int from, const std::function<void(std::string_view)>& sink) {
  char buf[16384];
  const ssize_t n = ::read(from, buf, sizeof buf);
  if (n > 0) {
    sink(std::string_view(buf, static_cast<size_t>(n)));
    return true;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  return false;
}

int reap(ChildPid& init) {
  int status = 0;
  while (::waitpid(init.pid(), &status, 0) < 0) {
    if (errno == EINTR) continue;
    const int e = errno;
    throw sys::SysError(e, "wait for container");
  }
  init.release();
  return status;
}

void copy_window_size(int from, int to) {
  winsize ws{};
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }
}  // namespace

ForwardedSignals::ForwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwarded) sigaddset(&set, s);
  check(::sigprocmask(SIG_BLOCK, &set, &old_), "block signals");
  fd_.reset(static_cast<int>(check(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd")));
}

ForwardedSignals::~ForwardedSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (!::isatty(fd)) return;
  if (::tcgetattr(fd, &saved_) != 0) return;
  termios raw = saved_;
  ::cfmakeraw(&raw);
  active_ = ::tcsetattr(fd, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
}

int supervise_attached(ChildPid& init, const sys::Fd& pty_master, ForwardedSignals& signals, bool relay_stdin) {
  const bool tty = static_cast<bool>(pty_master);
  if (tty) {
    copy_window_size(STDIN_FILENO, pty_master.get());
    set_nonblocking(pty_master.get());
  }
  bool stdin_open = tty && relay_stdin;
  bool master_open = tty;
  auto to_stdout = [](std::string_view s) { sys::write_all(STDOUT_FILENO, s); };
  auto to_master = [&](std::string_view s) { sys::write_all(pty_master.get(), s); };
  for (;;) {
    pollfd fds[4] = {{init.pidfd().get(), POLLIN, 0}, {signals.fd(), POLLIN, 0},
                     {master_open ? pty_master.get() : -1, POLLIN, 0},
                     {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      throw sys::SysError(e, "poll");
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(signals.fd(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH) {
          if (tty) copy_window_size(STDIN_FILENO, pty_master.get());
        } else {
          log::debug("forwarding signal " + std::to_string(si.ssi_signo) + " to the container");
          sys::sys_pidfd_send_signal(init.pidfd().get(), static_cast<int>(si.ssi_signo));
        }
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) master_open = pump(pty_master.get(), to_stdout);
    if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) stdin_open = pump(STDIN_FILENO, to_master);
    if (fds[0].revents & POLLIN) {
      while (master_open && pump(pty_master.get(), to_stdout)) {
        pollfd p{pty_master.get(), POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) break;  // drained
      }
      return reap(init);
    }
  }
}

int supervise_detached(ChildPid& init, sys::Fd out, sys::Fd err, LogWriter& log) {
  auto sink = [&](const char* stream) { return [&log, stream](std::string_view s) { log.feed(stream, s); }; };
  bool out_open = static_cast<bool>(out), err_open = static_cast<bool>(err);
  bool exited = false;
  int status = 0;
  while (!exited || out_open || err_open) {
    pollfd fds[3] = {{exited ? -1 : init.pidfd().get(), POLLIN, 0}, {out_open ? out.get() : -1, POLLIN, 0},
                     {err_open ? err.get() : -1, POLLIN, 0}};
    // Once init is gone, its namespace's processes are gone too; give the
    // pipes a moment to drain, never forever (an fd passed elsewhere).
    const int rc = ::poll(fds, 3, exited ? 1000 : -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      throw sys::SysError(e, "poll");
    }
    if (rc == 0) break;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) out_open = pump(out.get(), sink("stdout"));
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) err_open = pump(err.get(), sink("stderr"));
    if (fds[0].revents & POLLIN) {
      status = reap(init);
      exited = true;
    }
  }
  log.flush();
  return status;
}

}  // namespace nrun::runtime
