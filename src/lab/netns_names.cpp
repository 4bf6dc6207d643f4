#include "lab/netns_names.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::lab {
namespace fs = std::filesystem;
using sys::check;

void ensure_netns_dir(const fs::path& dir) {
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  // iproute2's netns_add: try to make it shared; EINVAL means it is not a
  // mount point yet, so bind it onto itself first and try again.
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) {
    const int e = errno;
    throw sys::SysError(e, "make '" + dir.string() + "' a shared mount point");
  }
  log::debug("mount: bind '" + dir.string() + "' onto itself");
  check(::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr),
        "bind '" + dir.string() + "' onto itself");
  check(::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr), "make '" + dir.string() + "' shared");
}

bool netns_name_exists(const std::string& name, const fs::path& dir) {
  struct stat st;
  return ::lstat((dir / name).c_str(), &st) == 0;
}

void bind_netns(const std::string& name, pid_t pid, const fs::path& dir) {
  ensure_netns_dir(dir);
  const fs::path path = dir / name;
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) {
      const int e = errno;
      if (e == EEXIST) throw sys::UsageError("network namespace name '" + name + "' is taken (" + path.string() + ")");
      throw sys::SysError(e, "create '" + path.string() + "'");
    }
    ::close(fd);
  }
  const std::string source = "/proc/" + std::to_string(pid) + "/ns/net";
  log::debug("mount: bind '" + source + "' onto '" + path.string() + "'");
  if (::mount(source.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
    const int e = errno;
    ::unlink(path.c_str());
    throw sys::SysError(e, "bind '" + source + "' onto '" + path.string() + "'");
  }
}

bool unbind_netns_if_exists(const std::string& name, const fs::path& dir) {
  const fs::path path = dir / name;
  if (!netns_name_exists(name, dir)) return false;
  log::debug("mount: detach '" + path.string() + "'");
  // EINVAL: not a mount point (a deploy killed between the two steps).
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    const int e = errno;
    throw sys::SysError(e, "unmount '" + path.string() + "'");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    const int e = errno;
    throw sys::SysError(e, "remove '" + path.string() + "'");
  }
  return true;
}

}  // namespace nrun::lab
