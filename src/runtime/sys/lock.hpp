// flock(2) owner: the lock is held for the object's lifetime.
#pragma once
#include <string>

#include "runtime/sys/fd.hpp"

namespace nrun::sys {

class FileLock {
 public:
  enum class Mode { shared, exclusive };
  // Creates the lock file if needed and blocks until the lock is held.
  FileLock(const std::string& path, Mode mode);
  // Locks an existing directory itself: no lock file (one inode fewer to
  // make and delete per record). Throws SysError ENOENT when it is gone.
  static FileLock directory(const std::string& path, Mode mode);
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;

 private:
  FileLock(Fd fd, Mode mode, const std::string& path);
  Fd fd_;  // closing the fd releases the lock
};

// Writes `data` to `path` atomically: temp file in the same directory,
// fsync (unless Durability::none), rename. Readers see the old or the new
// content, never a mix.
enum class Durability { fsync, none };
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       Durability durability = Durability::fsync);

}  // namespace nrun::sys
