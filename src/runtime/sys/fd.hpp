// Move-only owner of a file descriptor (folly::File minus the ownsFd flag).
#pragma once
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <utility>

namespace nrun::sys {

class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);  // never retry close()
    fd_ = fd;
  }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// openat() with O_CLOEXEC always added; throws SysError naming the path.
Fd open_at(int dirfd, const std::string& path, int flags, mode_t mode = 0);
inline Fd open_path(const std::string& path, int flags, mode_t mode = 0) {
  return open_at(AT_FDCWD, path, flags, mode);
}

struct Pipe {
  Fd read;
  Fd write;
};
Pipe make_pipe(int extra_flags = 0);  // O_CLOEXEC always

// Reads a whole file; throws SysError.
std::string read_file(const std::string& path);
// Like read_file, but nullopt when the file does not exist.
std::optional<std::string> try_read_file(const std::string& path);
// Writes all bytes, retrying on EINTR and short writes; throws SysError.
void write_all(int fd, std::string_view data);
// Writes a string to an existing file (cgroup and /proc files).
void write_file(const std::string& path, std::string_view data);

}  // namespace nrun::sys
