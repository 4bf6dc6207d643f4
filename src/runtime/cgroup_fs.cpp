#include "runtime/cgroup_fs.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sstream>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime::cgroupfs {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::optional<std::string> try_read(const fs::path& p) {
  std::string s;
  try {
    s = sys::read_file(p.string());
  } catch (const sys::SysError& e) {
    if (e.err() == ENOENT || e.err() == ENODEV) return std::nullopt;  // ENODEV: cgroup removed under us
    throw;
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void write(const fs::path& p, std::string_view value) {
  const std::string what = "write '" + std::string(value) + "' to '" + p.string() + "'";
  // O_TRUNC as runc does: cgroupfs ignores it, a plain file (tests) needs it.
  const int fd = ::open(p.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    throw sys::SysError(e, what);
  }
  sys::Fd owner(fd);
  // The kernel parses each write(2) on its own: never split a value.
  ssize_t n;
  while ((n = ::write(fd, value.data(), value.size())) < 0 && errno == EINTR) {
  }
  if (n < 0) {
    const int e = errno;
    throw sys::SysError(e, what);
  }
  if (static_cast<size_t>(n) != value.size()) throw sys::Error(what + ": short write");
  log::debug(what);
}

std::optional<uint64_t> read_key(const fs::path& p, std::string_view key) {
  const auto text = try_read(p);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string k;
  uint64_t v;
  while (in >> k) {
    if (!(in >> v)) return std::nullopt;
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<uint64_t> read_u64(const fs::path& p) {
  const auto text = try_read(p);
  if (!text || text->empty() || !std::isdigit(static_cast<unsigned char>((*text)[0]))) return std::nullopt;
  return std::stoull(*text);
}

std::vector<std::string> words(std::string_view s) {
  std::istringstream in{std::string(s)};
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

void ensure_dir(const fs::path& p) {
  if (::mkdir(p.c_str(), 0755) == 0) {
    log::debug("created cgroup '" + p.string() + "'");
    return;
  }
  const int e = errno;
  if (e == EEXIST) return;
  throw sys::SysError(e, "create cgroup '" + p.string() + "'");
}

namespace {
std::vector<pid_t> procs(const fs::path& dir) {
  std::vector<pid_t> out;
  const auto text = try_read(dir / "cgroup.procs");
  if (!text) return out;
  for (const auto& w : words(*text)) out.push_back(static_cast<pid_t>(std::stol(w)));
  return out;
}

void kill_all(const fs::path& dir) {
  if (fs::exists(dir / "cgroup.kill")) {
    try {
      write(dir / "cgroup.kill", "1");
      return;
    } catch (const sys::SysError& e) {
      log::debug(std::string(e.what()) + ", killing one by one");
    }
  }
  // A pid read from cgroup.procs may exit and be reused before we signal
  // it. Pin each with a pidfd first; a pid still listed after that is the
  // process we saw, and the pidfd cannot reach another.
  std::vector<std::pair<pid_t, sys::Fd>> pinned;
  for (pid_t pid : procs(dir)) {
    sys::Fd fd(sys::sys_pidfd_open(pid));
    if (fd) pinned.emplace_back(pid, std::move(fd));
  }
  if (pinned.empty()) return;
  const auto still = procs(dir);
  for (auto& [pid, fd] : pinned)
    if (std::find(still.begin(), still.end(), pid) != still.end()) sys::sys_pidfd_send_signal(fd.get(), SIGKILL);
}

// rmdir: true when the cgroup is gone, false while it is busy.
bool try_rmdir(const fs::path& dir) {
  if (::rmdir(dir.c_str()) == 0) {
    log::debug("removed cgroup '" + dir.string() + "'");
    return true;
  }
  const int e = errno;
  if (e == ENOENT) return true;
  // cgroupfs says EBUSY for processes or child cgroups left inside; a plain
  // directory tree (the unit tests' fake one) says ENOTEMPTY for children.
  if (e != EBUSY && e != ENOTEMPTY) throw sys::SysError(e, "remove cgroup '" + dir.string() + "'");
  return false;
}

void remove_until(const fs::path& dir, Clock::time_point deadline) {
  // Once init has exited the cgroup is usually empty and goes at once,
  // without listing children or processes.
  if (try_rmdir(dir)) return;
  for (;;) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_directory(ec) && !entry.is_symlink(ec)) remove_until(entry.path(), deadline);
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw sys::SysError(ec.value(), "list cgroup '" + dir.string() + "'");
    kill_all(dir);
    if (try_rmdir(dir)) return;
    if (Clock::now() >= deadline)
      throw sys::Error("remove cgroup '" + dir.string() +
                       "': still busy, processes left: " + std::to_string(procs(dir).size()));
    // Killed processes leave their cgroup a moment after the signal.
    ::usleep(10'000);
  }
}
}  // namespace

void remove_dir(const fs::path& dir, std::chrono::milliseconds timeout) { remove_until(dir, Clock::now() + timeout); }

void remove_if_unused(const fs::path& dir) noexcept {
  if (::rmdir(dir.c_str()) == 0) log::debug("removed cgroup '" + dir.string() + "'");
}

}  // namespace nrun::runtime::cgroupfs
