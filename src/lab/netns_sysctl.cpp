#include "lab/netns_sysctl.hpp"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::lab {

std::string sysctl_path(const std::string& key) {
  std::string path = "/proc/sys/" + key;
  for (size_t i = 10; i < path.size(); ++i)
    if (path[i] == '.') path[i] = '/';
  return path;
}

namespace {
// In the child: nothing that could need the parent's state, and never a
// return into the parent's frames.
[[noreturn]] void child(const sys::Fd& netns, const std::vector<std::pair<std::string, std::string>>& sysctls,
                        int report) noexcept {
  std::string msg;
  try {
    sys::check(::setns(netns.get(), CLONE_NEWNET), "join the node's network namespace");
    for (const auto& [key, value] : sysctls) {
      try {
        sys::write_file(sysctl_path(key), value);
      } catch (const sys::SysError& e) {
        const std::string why =
            e.err() == ENOENT ? "no such sysctl in this kernel or namespace" : std::strerror(e.err());
        throw sys::Error("set " + key + "=" + value + ": " + why);
      }
    }
    ::_exit(0);
  } catch (const std::exception& e) {
    msg = e.what();
  } catch (...) {
    msg = "unknown error";
  }
  [[maybe_unused]] ssize_t n = ::write(report, msg.data(), msg.size());
  ::_exit(1);
}
}  // namespace

void write_sysctls_in(const sys::Fd& netns, const std::vector<std::pair<std::string, std::string>>& sysctls) {
  if (sysctls.empty()) return;
  for (const auto& [k, v] : sysctls) log::debug("sysctl: " + k + " = " + v);
  sys::Pipe pipe = sys::make_pipe();
  std::fflush(nullptr);
  const pid_t pid = static_cast<pid_t>(sys::check(::fork(), "fork"));
  if (pid == 0) {
    pipe.read.reset();
    child(netns, sysctls, pipe.write.get());
  }
  pipe.write.reset();
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(pipe.read.get(), buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    msg.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  throw sys::Error(msg.empty() ? "the sysctl writer died" : msg);
}

}  // namespace nrun::lab
