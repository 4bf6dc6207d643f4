#include "runtime/sys/fd.hpp"

#include <cerrno>

#include "runtime/sys/error.hpp"

namespace nrun::sys {

Fd open_at(int dirfd, const std::string& path, int flags, mode_t mode) {
  const int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    const int e = errno;
    throw SysError(e, "open '" + path + "'");
  }
  return Fd(fd);
}

Pipe make_pipe(int extra_flags) {
  int fds[2];
  check(::pipe2(fds, O_CLOEXEC | extra_flags), "pipe2");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

std::string read_file(const std::string& path) {
  Fd fd = open_path(path, O_RDONLY);
  std::string out;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      throw SysError(e, "read '" + path + "'");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::optional<std::string> try_read_file(const std::string& path) {
  try {
    return read_file(path);
  } catch (const SysError& e) {
    if (e.err() == ENOENT) return std::nullopt;
    throw;
  }
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      throw SysError(e, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void write_file(const std::string& path, std::string_view data) {
  Fd fd = open_path(path, O_WRONLY | O_TRUNC);
  try {
    write_all(fd.get(), data);
  } catch (const SysError& e) {
    throw SysError(e.err(), "write '" + path + "'");
  }
}

}  // namespace nrun::sys
