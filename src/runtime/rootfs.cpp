#include "runtime/rootfs.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <optional>

#include "runtime/devices.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/syscalls.hpp"
#include "runtime/sysctl.hpp"

namespace nrun::runtime {
using sys::check;
using sys::Fd;

namespace {
constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

std::string fd_path(const Fd& fd) { return "/proc/self/fd/" + std::to_string(fd.get()); }

MountStep fs_mount(std::string fstype, std::string target, unsigned long flags, std::string data = "") {
  MountStep s;
  s.kind = MountStep::Kind::mount;
  s.source = fstype;
  s.fstype = std::move(fstype);
  s.target = std::move(target);
  s.flags = flags;
  s.data = std::move(data);
  return s;
}

MountStep char_device(std::string target, unsigned major, unsigned minor) {
  MountStep s;
  s.kind = MountStep::Kind::mknod;
  s.target = std::move(target);
  s.device = makedev(major, minor);
  s.mode = S_IFCHR | 0666;
  return s;
}

MountStep symlink_step(std::string contents, std::string target) {
  MountStep s;
  s.kind = MountStep::Kind::symlink;
  s.source = std::move(contents);
  s.target = std::move(target);
  return s;
}

void do_mount(const char* src, const std::string& target, const char* fstype, unsigned long flags,
              const std::string& data, const std::string& what) {
  if (::mount(src, target.c_str(), fstype, flags, data.empty() ? nullptr : data.c_str()) != 0) {
    const int e = errno;
    throw sys::SysError(e, "mount " + what);
  }
}

// Binds a path onto itself and remounts it read-only, keeping the flags the
// kernel may have locked.
void remount_read_only(const std::string& target, const std::string& what) {
  struct statvfs sv;
  check(::statvfs(target.c_str(), &sv), "statvfs " + what);
  unsigned long keep = 0;  // a bind remount replaces these flags: carry them over
  if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) keep |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) keep |= MS_RELATIME;
  do_mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, "", what + " read-only");
}
}  // namespace

std::string overlay_options(const RootfsInput& in) {
  std::string lower;
  for (auto it = in.layers.rbegin(); it != in.layers.rend(); ++it) {
    if (!lower.empty()) lower += ':';
    lower += *it;
  }
  return "lowerdir=" + lower + ",upperdir=" + in.upper + ",workdir=" + in.work;
}

RootfsPlan build_mount_plan(const ContainerSpec& spec, const RootfsInput& in) {
  RootfsPlan p;
  p.overlay_options = overlay_options(in);
  p.rootfs = in.rootfs;
  p.workdir = normalize_container_path(spec.workdir);
  p.read_only_root = spec.read_only;
  p.sysctls = spec.sysctls;
  auto& m = p.before_pivot;
  // The image's /proc, /sys and /dev must be real directories: a symlink
  // there would carry the kernel's filesystems (and nrun's masks and
  // nodes) to wherever the image points.
  m.push_back(fs_mount("proc", "/proc", kNoSuidDevExec));
  m.push_back(fs_mount("sysfs", "/sys", kNoSuidDevExec | (spec.privileged ? 0 : MS_RDONLY)));
  m.push_back(fs_mount("tmpfs", "/dev", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"));
  for (auto& step : m) step.real_directory = true;
  m.push_back(char_device("/dev/null", 1, 3));
  m.push_back(char_device("/dev/zero", 1, 5));
  m.push_back(char_device("/dev/full", 1, 7));
  m.push_back(char_device("/dev/random", 1, 8));
  m.push_back(char_device("/dev/urandom", 1, 9));
  m.push_back(char_device("/dev/tty", 5, 0));
  if (spec.privileged) {
    MountStep all;
    all.kind = MountStep::Kind::host_devices;
    all.target = "/dev";
    m.push_back(std::move(all));
  }
  m.push_back(symlink_step("/proc/self/fd", "/dev/fd"));
  m.push_back(symlink_step("/proc/self/fd/0", "/dev/stdin"));
  m.push_back(symlink_step("/proc/self/fd/1", "/dev/stdout"));
  m.push_back(symlink_step("/proc/self/fd/2", "/dev/stderr"));
  m.push_back(symlink_step("pts/ptmx", "/dev/ptmx"));
  m.push_back(fs_mount("devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"));
  // With --ipc container:X, SysV IPC and mqueues are X's; /dev/shm stays the
  // container's own: a mount of another mount namespace cannot be bound here.
  m.push_back(fs_mount("tmpfs", "/dev/shm", kNoSuidDevExec, "mode=1777,size=65536k"));
  m.push_back(fs_mount("mqueue", "/dev/mqueue", kNoSuidDevExec));
  std::vector<VolumeSpec> binds = in.files;  // a user's volume may cover a generated file
  binds.insert(binds.end(), spec.volumes.begin(), spec.volumes.end());
  for (const auto& v : binds) {
    MountStep s;
    s.kind = MountStep::Kind::bind;
    s.source = v.host;
    s.target = normalize_container_path(v.container);
    s.flags = MS_BIND | MS_REC;
    s.read_only = v.read_only;
    m.push_back(std::move(s));
  }
  if (spec.privileged) return p;  // no masks, /proc/sys writable: as Docker
  p.masked_paths = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                    "/proc/scsi",          "/sys/firmware",    "/sys/devices/virtual/powercap"};
  p.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  return p;
}

namespace {
// The target of `name` in `dir` when it is a symlink.
std::optional<std::string> try_read_link(int dir, const std::string& name) {
  char buf[4096];
  const ssize_t n = ::readlinkat(dir, name.c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

constexpr int kMaxSymlinkHops = 40;  // the kernel's own limit
}  // namespace

Fd open_in_root(int root, const std::string& path, bool create, bool last_is_file, Symlinks symlinks) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (symlinks == Symlinks::refuse ? RESOLVE_NO_SYMLINKS : 0);
  std::string rel = normalize_container_path(path);
  for (int hops = 0;; ++hops) {
    if (hops > kMaxSymlinkHops) throw sys::SysError(ELOOP, "resolve '" + path + "' in the container");
    // Walk component by component so each missing one is created inside
    // the root, never through a symlink that points out of it.
    Fd dir(static_cast<int>(check(sys::sys_openat2(root, ".", &how), "open rootfs")));
    bool restarted = false;
    size_t pos = 1;
    while (pos <= rel.size() && !restarted) {
      size_t next = rel.find('/', pos);
      if (next == std::string::npos) next = rel.size();
      const std::string prefix = rel.substr(0, next);
      const std::string name = rel.substr(pos, next - pos);
      const bool last = next == rel.size();
      int fd = sys::sys_openat2(root, prefix.c_str(), &how);
      if (fd < 0 && errno == ENOENT && create) {
        if (symlinks == Symlinks::in_root) {
          if (auto target = try_read_link(dir.get(), name)) {
            // Dangling: go on from the link's target, still inside the root.
            const std::string parent = rel.substr(0, pos - 1);
            rel = ((*target)[0] == '/' ? *target : parent + "/" + *target) + rel.substr(next);
            restarted = true;
            continue;
          }
        }
        int rc;
        if (last && last_is_file) {
          rc = ::openat(dir.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
          if (rc >= 0) ::close(rc);
        } else {
          rc = ::mkdirat(dir.get(), name.c_str(), 0755);
        }
        if (rc < 0 && errno != EEXIST) {
          const int e = errno;
          throw sys::SysError(e, "create '" + prefix + "' in the container");
        }
        fd = sys::sys_openat2(root, prefix.c_str(), &how);
      }
      if (fd < 0) {
        const int e = errno;
        throw sys::SysError(e, "resolve '" + prefix + "' in the container");
      }
      dir.reset(fd);
      pos = next + 1;
    }
    if (!restarted) return dir;
  }
}

namespace {
// The target of a filesystem mount; for real_directory steps, one the
// image has as a plain directory, reached through no symlink.
Fd open_real_directory_or_any(int root, const MountStep& s) {
  if (!s.real_directory) return open_in_root(root, s.target, true);
  Fd target;
  try {
    target = open_in_root(root, s.target, true, false, Symlinks::refuse);
  } catch (const sys::SysError& e) {
    if (e.err() != ELOOP) throw;
    throw sys::SysError(e.err(), "'" + s.target + "' in the image is a symlink; refused");
  }
  struct stat st;
  check(::fstat(target.get(), &st), "stat '" + s.target + "'");
  if (!S_ISDIR(st.st_mode)) throw sys::SysError(ENOTDIR, "'" + s.target + "' in the image is not a directory; refused");
  return target;
}

// --privileged: the host's device nodes, made in the container's fresh
// /dev with the host's modes and owners (as Docker does).
void make_host_devices(int root, const std::string& dev) {
  for (const auto& d : host_devices()) {
    const std::string target = dev + "/" + d.path;
    const auto slash = target.rfind('/');
    Fd dir = open_in_root(root, target.substr(0, slash), true, false, Symlinks::refuse);
    Fd dirfd = sys::open_path(fd_path(dir), O_RDONLY | O_DIRECTORY);
    const std::string name = target.substr(slash + 1);
    if (::mknodat(dirfd.get(), name.c_str(), d.mode, d.rdev) != 0) {
      if (errno == EEXIST) continue;
      const int e = errno;
      throw sys::SysError(e, "mknod '" + target + "'");
    }
    check(::fchownat(dirfd.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW), "chown '" + target + "'");
    check(::fchmodat(dirfd.get(), name.c_str(), d.mode & 07777, 0), "chmod '" + target + "'");
  }
}
}  // namespace

void apply_before_pivot(const RootfsPlan& plan) {
  // Our mounts must never propagate back to the host.
  check(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make mounts private");
  do_mount("overlay", plan.rootfs, "overlay", 0, plan.overlay_options, "overlay rootfs");
  Fd root = sys::open_path(plan.rootfs, O_PATH | O_DIRECTORY);
  for (const auto& s : plan.before_pivot) {
    switch (s.kind) {
      case MountStep::Kind::mount: {
        Fd target = open_real_directory_or_any(root.get(), s);
        do_mount(s.source.c_str(), fd_path(target), s.fstype.c_str(), s.flags, s.data, s.fstype + " on '" + s.target + "'");
        break;
      }
      case MountStep::Kind::bind: {
        struct stat st;
        check(::stat(s.source.c_str(), &st), "volume source '" + s.source + "'");
        Fd target = open_in_root(root.get(), s.target, true, !S_ISDIR(st.st_mode));
        const std::string what = "volume '" + s.source + "' on '" + s.target + "'";
        do_mount(s.source.c_str(), fd_path(target), nullptr, s.flags, "", what);
        if (s.read_only) {
          // Re-open: the fd still names the directory under the new mount.
          Fd mounted = open_in_root(root.get(), s.target, false);
          remount_read_only(fd_path(mounted), what);
        }
        break;
      }
      case MountStep::Kind::mknod: {
        const std::string parent = s.target.substr(0, s.target.rfind('/'));
        Fd dir = open_in_root(root.get(), parent, true);
        const std::string name = s.target.substr(s.target.rfind('/') + 1);
        Fd dirfd = sys::open_path(fd_path(dir), O_RDONLY | O_DIRECTORY);
        check(::mknodat(dirfd.get(), name.c_str(), s.mode, s.device), "mknod '" + s.target + "'");
        check(::fchmodat(dirfd.get(), name.c_str(), s.mode & 07777, 0), "chmod '" + s.target + "'");
        break;
      }
      case MountStep::Kind::host_devices:
        make_host_devices(root.get(), s.target);
        break;
      case MountStep::Kind::symlink: {
        const std::string parent = s.target.substr(0, s.target.rfind('/'));
        Fd dir = open_in_root(root.get(), parent, true);
        Fd dirfd = sys::open_path(fd_path(dir), O_RDONLY | O_DIRECTORY);
        const std::string name = s.target.substr(s.target.rfind('/') + 1);
        check(::symlinkat(s.source.c_str(), dirfd.get(), name.c_str()), "symlink '" + s.target + "'");
        break;
      }
    }
  }
  // The working directory exists before the root may become read-only.
  open_in_root(root.get(), plan.workdir, true);
}

void pivot_into(const std::string& rootfs) {
  // pivot_root(".", ".") stacks the old root under the new one; detaching
  // it leaves only the container's tree (crun and runc do the same).
  Fd newroot = sys::open_path(rootfs, O_RDONLY | O_DIRECTORY);
  check(::fchdir(newroot.get()), "chdir rootfs");
  check(sys::sys_pivot_root(".", "."), "pivot_root");
  check(::umount2(".", MNT_DETACH), "detach old root");
  check(::chdir("/"), "chdir /");
}

void apply_after_pivot(const RootfsPlan& plan) {
  // Through our own procfs, before /proc/sys becomes read-only below.
  write_sysctls(plan.sysctls);
  for (const auto& path : plan.masked_paths) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;  // not on this kernel
    if (S_ISDIR(st.st_mode))
      do_mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0", "mask '" + path + "'");
    else
      do_mount("/dev/null", path, nullptr, MS_BIND, "", "mask '" + path + "'");
  }
  for (const auto& path : plan.readonly_paths) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    do_mount(path.c_str(), path, nullptr, MS_BIND | MS_REC, "", "bind '" + path + "'");
    remount_read_only(path, "'" + path + "'");
  }
  if (plan.read_only_root) remount_read_only("/", "root");
}

}  // namespace nrun::runtime
