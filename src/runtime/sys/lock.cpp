#include "runtime/sys/lock.hpp"

#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "runtime/sys/error.hpp"

namespace nrun::sys {

FileLock::FileLock(const std::string& path, Mode mode) : FileLock(open_path(path, O_RDWR | O_CREAT, 0600), mode, path) {}

FileLock FileLock::directory(const std::string& path, Mode mode) {
  return FileLock(open_path(path, O_RDONLY | O_DIRECTORY), mode, path);
}

FileLock::FileLock(Fd fd, Mode mode, const std::string& path) : fd_(std::move(fd)) {
  const int op = mode == Mode::shared ? LOCK_SH : LOCK_EX;
  while (::flock(fd_.get(), op) != 0) {
    if (errno == EINTR) continue;
    const int e = errno;
    throw SysError(e, "lock '" + path + "'");
  }
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode, Durability durability) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    Fd fd = open_path(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    try {
      write_all(fd.get(), data);
      if (durability == Durability::fsync) check(::fsync(fd.get()), "fsync '" + tmp + "'");
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw SysError(e, "rename '" + tmp + "' to '" + path + "'");
  }
  // No fsync of the directory: after a crash the rename may be lost, which
  // leaves the previous complete file, and readers reconcile records with
  // the live processes (pid, start time, boot id) anyway.
}

}  // namespace nrun::sys
