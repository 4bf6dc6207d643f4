#include "runtime/container_copy.hpp"

#include <dirent.h>
#include <endian.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "runtime/archive_disk.hpp"
#include "runtime/sys/c_free.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;
using namespace archive_disk;

namespace {

using Dir = std::unique_ptr<DIR, sys::CFree<closedir>>;

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }
std::string child_rel(const std::string& parent, const char* name) {
  return parent.empty() ? std::string(name) : parent + "/" + name;
}
std::string shown(const std::string& rel) { return rel.empty() ? "/" : "'" + rel + "'"; }

// Call right after the failed call: errno is saved before the message is
// built.
[[noreturn]] void throw_errno(const char* action, const std::string& rel) {
  const int e = errno;
  throw sys::SysError(e, std::string(action) + " " + shown(rel));
}

// `name` in the directory `dirfd`, as an O_PATH fd on the name itself (a
// symlink stays a symlink). nullopt when it is gone since it was listed or
// is a mount point.
std::optional<sys::Fd> try_open_beneath(int dirfd, const char* name, const std::string& rel) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = kResolve;
  for (;;) {
    const int fd = sys::sys_openat2(dirfd, name, &how);
    if (fd >= 0) return sys::Fd(fd);
    if (errno == EINTR) continue;
    if (errno == ENOENT) return std::nullopt;
    if (errno == EXDEV) {
      log::debug("container file " + shown(rel) + " is a mount point, skipping");
      return std::nullopt;
    }
    throw_errno("open container file", rel);
  }
}

// A second, readable fd on the inode `path_fd` holds. /proc/self/fd/N is a
// magic link to that inode, not a path that could be swapped. O_NONBLOCK so
// that a lease the container holds on its file fails the open instead of
// holding the copy for lease-break-time.
sys::Fd reopen(const sys::Fd& path_fd, int flags, const std::string& rel) {
  const int fd = ::open(fd_path(path_fd.get()).c_str(), flags | O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) throw_errno("read container file", rel);
  return sys::Fd(fd);
}

// listxattr/getxattr fill a buffer sized by a first call; the file may
// change between the two (ERANGE), so they loop. Returns -1 with errno.
template <class Call>
ssize_t read_sized(std::string& buf, Call call) {
  for (;;) {
    const ssize_t n = call(nullptr, 0);
    if (n <= 0) return n;
    buf.resize(static_cast<size_t>(n));
    const ssize_t got = call(buf.data(), buf.size());
    if (got >= 0) {
      buf.resize(static_cast<size_t>(got));
      return got;
    }
    if (errno != ERANGE) return -1;
  }
}

// POSIX ACLs go to the disk writer as libarchive ACL entries, which it sets
// with acl_set_fd; it does not restore system.posix_acl_* given as xattrs.
// The xattr is the kernel's format (include/uapi/linux/posix_acl_xattr.h):
// a little-endian u32 version 2, then {u16 tag, u16 perm, u32 id} entries.
void add_acl(archive_entry* e, std::string_view name, const std::string& value, const std::string& rel) {
  const int type = name == "system.posix_acl_default" ? ARCHIVE_ENTRY_ACL_TYPE_DEFAULT : ARCHIVE_ENTRY_ACL_TYPE_ACCESS;
  const auto bad = [&] { return sys::Error("container file " + shown(rel) + ": malformed " + std::string(name)); };
  uint32_t version = 0;
  if (value.size() < 4 || (value.size() - 4) % 8 != 0) throw bad();
  std::memcpy(&version, value.data(), 4);
  if (le32toh(version) != 2) throw bad();
  for (size_t off = 4; off < value.size(); off += 8) {
    uint16_t tag, perm;
    uint32_t id;
    std::memcpy(&tag, value.data() + off, 2);
    std::memcpy(&perm, value.data() + off + 2, 2);
    std::memcpy(&id, value.data() + off + 4, 4);
    int archive_tag;
    switch (le16toh(tag)) {
      case 0x01: archive_tag = ARCHIVE_ENTRY_ACL_USER_OBJ; break;
      case 0x02: archive_tag = ARCHIVE_ENTRY_ACL_USER; break;
      case 0x04: archive_tag = ARCHIVE_ENTRY_ACL_GROUP_OBJ; break;
      case 0x08: archive_tag = ARCHIVE_ENTRY_ACL_GROUP; break;
      case 0x10: archive_tag = ARCHIVE_ENTRY_ACL_MASK; break;
      case 0x20: archive_tag = ARCHIVE_ENTRY_ACL_OTHER; break;
      default: throw bad();
    }
    const bool named = archive_tag == ARCHIVE_ENTRY_ACL_USER || archive_tag == ARCHIVE_ENTRY_ACL_GROUP;
    // r, w, x are the same bits in both formats.
    archive_entry_acl_add_entry(e, type, le16toh(perm) & 07, archive_tag, named ? static_cast<int>(le32toh(id)) : -1,
                                nullptr);
  }
}

// The kept xattrs, read through the O_PATH fd. listxattr, not llistxattr:
// following /proc/self/fd/N lands on the inode the fd holds (the symlink
// itself when it holds one) and goes no further, whereas llistxattr would
// list the magic link's own (none).
void add_xattrs(archive_entry* e, const sys::Fd& path_fd, const std::string& rel) {
  const std::string p = fd_path(path_fd.get());
  std::string names;
  if (read_sized(names, [&](char* b, size_t n) { return ::listxattr(p.c_str(), b, n); }) < 0) {
    if (errno == ENOTSUP) return;
    throw_errno("list xattrs of container file", rel);
  }
  std::string value;
  for (size_t i = 0; i < names.size(); i += std::strlen(names.c_str() + i) + 1) {
    const char* name = names.c_str() + i;
    if (!keep_container_xattr(name)) continue;
    if (read_sized(value, [&](char* b, size_t n) { return ::getxattr(p.c_str(), name, b, n); }) < 0) {
      if (errno == ENODATA) continue;  // removed since listed
      const int err = errno;
      throw sys::SysError(err, "read xattr " + std::string(name) + " of container file " + shown(rel));
    }
    if (std::string_view(name).starts_with("system.posix_acl_"))
      add_acl(e, name, value, rel);
    else
      archive_entry_xattr_add_entry(e, name, value.data(), value.size());
  }
}

std::string read_symlink(const sys::Fd& path_fd, const std::string& rel) {
  std::string target(256, '\0');
  for (;;) {
    const ssize_t n = ::readlinkat(path_fd.get(), "", target.data(), target.size());
    if (n < 0) throw_errno("read symlink", rel);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

// Describes the file `path_fd` holds and hands it to `visit`. Returns the
// directory to walk next when it is one.
std::optional<Dir> visit_file(const sys::Fd& path_fd, const std::string& rel, const ContainerFileVisitor& visit) {
  struct stat st;
  if (::fstat(path_fd.get(), &st) != 0) throw_errno("stat container file", rel);
  if (S_ISSOCK(st.st_mode)) return std::nullopt;

  Entry e(archive_entry_new());
  if (!e) throw std::bad_alloc();
  archive_entry_copy_stat(e.get(), &st);
  archive_entry_set_pathname(e.get(), rel.c_str());
  if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(e.get(), read_symlink(path_fd, rel).c_str());
  if (!S_ISREG(st.st_mode)) archive_entry_set_size(e.get(), 0);
  add_xattrs(e.get(), path_fd, rel);

  sys::Fd body;
  if (S_ISREG(st.st_mode)) body = reopen(path_fd, 0, rel);
  visit(ContainerFile{rel, e.get(), body.get()});
  if (!S_ISDIR(st.st_mode)) return std::nullopt;

  sys::Fd dir_fd = reopen(path_fd, O_DIRECTORY, rel);
  Dir dir(::fdopendir(dir_fd.get()));
  if (!dir) throw_errno("list container directory", rel);
  dir_fd.release();  // the DIR owns it now
  return dir;
}

// Writes a regular file's data into the disk writer's current entry,
// skipping holes (SEEK_DATA), and never past `size`, the length the
// header promised: a file growing meanwhile is cut there; one shrinking
// leaves zeros, as the writer extends it to its size at finish.
void copy_body_to_disk(int fd, off_t size, archive* out, const std::string& rel, const std::string& what) {
  std::vector<char> buf(256 * 1024);
  off_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(fd, pos, SEEK_DATA);
    off_t hole = size;
    if (data < 0) {
      if (errno == ENXIO) return;        // only a hole is left
      if (errno != EINVAL) throw_errno("find the data of container file", rel);
      data = pos;                        // no SEEK_DATA on this filesystem: all data
    } else {
      hole = ::lseek(fd, data, SEEK_HOLE);
      if (hole < 0) hole = size;
    }
    hole = std::min(hole, size);
    for (off_t off = data; off < hole;) {
      const ssize_t n = ::pread(fd, buf.data(), static_cast<size_t>(std::min<off_t>(hole - off, buf.size())), off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read container file", rel);
      if (n == 0) return;  // shrank while read
      const la_ssize_t w = archive_write_data_block(out, buf.data(), static_cast<size_t>(n), off);
      if (w < ARCHIVE_OK) check_archive(out, static_cast<int>(w), what);
      off += n;
    }
    pos = hole;
  }
}

}  // namespace

bool keep_container_xattr(std::string_view name) {
  if (is_opaque_xattr(name)) return true;
  if (is_overlay_xattr(name)) return false;
  return name.starts_with("user.") || name == "security.capability" || name == "system.posix_acl_access" ||
         name == "system.posix_acl_default";
}

void walk_container_tree(const fs::path& root, const ContainerFileVisitor& visit) {
  // The root is nrun's own path (ROOT/containers/<id>/upper), not the
  // container's; O_NOFOLLOW all the same.
  const sys::Fd top = sys::open_path(root, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  struct Level {
    Dir dir;
    std::string rel;
  };
  std::vector<Level> stack;
  if (auto dir = visit_file(top, "", visit)) stack.push_back({std::move(*dir), ""});
  while (!stack.empty()) {
    errno = 0;
    const dirent* d = ::readdir(stack.back().dir.get());
    if (!d) {
      if (errno != 0) throw_errno("list container directory", stack.back().rel);
      stack.pop_back();
      continue;
    }
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    std::string rel = child_rel(stack.back().rel, d->d_name);
    const auto fd = try_open_beneath(::dirfd(stack.back().dir.get()), d->d_name, rel);
    if (!fd) continue;
    if (auto sub = visit_file(*fd, rel, visit)) stack.push_back({std::move(*sub), std::move(rel)});
  }
}

void copy_container_tree(const fs::path& root, const fs::path& dest) {
  const std::string what = "copy the container's files from '" + root.string() + "'";
  const std::string dest_root = fs::canonical(dest).string();
  WriteArchive out = open_disk_writer();
  LinkResolver links = open_link_resolver();
  size_t files = 0;
  walk_container_tree(root, [&](const ContainerFile& f) {
    const std::string file_what = what + ": " + shown(f.rel);
    archive_entry* e = f.entry;
    archive_entry_set_pathname(e, join(dest_root, f.rel).c_str());
    // Later names of a hard-linked file become links to the first one.
    archive_entry* spare = nullptr;
    archive_entry_linkify(links.get(), &e, &spare);
    if (!e) return;
    check_archive(out.get(), archive_write_header(out.get(), e), file_what);
    if (f.body >= 0 && !archive_entry_hardlink(e) && archive_entry_size(e) > 0)
      copy_body_to_disk(f.body, archive_entry_size(e), out.get(), f.rel, file_what);
    check_archive(out.get(), archive_write_finish_entry(out.get()), file_what);
    ++files;
  });
  // Directory modes and times are applied at close, after their contents.
  check_archive(out.get(), archive_write_close(out.get()), what);
  log::debug("copied " + std::to_string(files) + " files of the container from '" + root.string() + "'");
}

}  // namespace nrun::runtime
