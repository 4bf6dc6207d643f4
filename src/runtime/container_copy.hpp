// Reading a container's files from the host without ever leaving its tree:
// the one way nrun copies out of a container (commit today; cp, diff and
// save of a container later).
//
// The container's processes own these files and may change them while nrun
// reads them: swap a file for a symlink to a host path between nrun's look
// and its open (renameat2 RENAME_EXCHANGE; CVE-2018-15664, `docker cp`). So
// nothing is opened by a path from the tree's root. The walk starts from
// the tree's directory fd and opens one name at a time below the directory
// it was listed in, with openat2(O_PATH|O_NOFOLLOW, RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV). Everything
// then comes from that fd: fstat, the symlink target (readlinkat ""), the
// xattrs and, for regular files and directories only, the contents through
// a reopen of /proc/self/fd/N, which is the inode already held, not a name.
// A device node or FIFO of the container is described, never opened.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

struct archive_entry;

namespace nrun::runtime {

// One file of a container's tree, as the walk found it.
struct ContainerFile {
  const std::string& rel;  // relative to the tree's root; "" for the root itself
  // Its fstat, symlink target and the xattrs kept (keep_container_xattr);
  // pathname is `rel`. The visitor may change it (a destination path).
  archive_entry* entry;
  // Regular files: open for reading on the very inode described; else -1.
  int body;
};
using ContainerFileVisitor = std::function<void(const ContainerFile&)>;

// Visits every file below `root` (a container's upper directory), a
// directory before its contents. Sockets are skipped (a socket belongs to
// its process, not to the tree), as are names deleted during the walk and
// mount points (another filesystem is not the tree's). Throws
// sys::SysError naming the file, relative to `root`, that could not be read.
void walk_container_tree(const std::filesystem::path& root, const ContainerFileVisitor& visit);

// Copies the tree below `root` into the existing, empty directory `dest`:
// modes, numeric owners, times, symlinks, hard links, device nodes and
// overlay whiteouts (char 0/0), holes of sparse files, and the xattrs
// keep_container_xattr() names.
void copy_container_tree(const std::filesystem::path& root, const std::filesystem::path& dest);

// The xattrs a copy keeps: POSIX ACLs, file capabilities, user.* and
// overlay's opaque marker. Other overlay xattrs (origin, impure, ...)
// describe the mount they came from; security.selinux and trusted.* are the
// host's labels and bookkeeping, not the container's to carry into an image.
bool keep_container_xattr(std::string_view name);

}  // namespace nrun::runtime
