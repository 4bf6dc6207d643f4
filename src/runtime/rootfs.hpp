// The container's filesystem: what to mount (build_mount_plan, pure) and
// doing it (apply_*, only ever called inside the container's new mount
// namespace, by init, so the kernel drops every mount with the namespace).
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/spec.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

struct MountStep {
  enum class Kind {
    mount,     // a new filesystem (proc, sysfs, tmpfs, devpts, mqueue)
    bind,      // a bind mount of a host path (volumes)
    mknod,     // a character device
    symlink,   // source is the link's contents
    host_devices,  // --privileged: every device node of the host's /dev
  };
  Kind kind = Kind::mount;
  std::string source;  // device/fs name, host path, or link contents
  std::string target;  // absolute path inside the container
  std::string fstype;
  unsigned long flags = 0;
  std::string data;
  bool read_only = false;      // bind: remount read-only after binding
  bool target_is_file = false; // bind: create a file rather than a directory
  dev_t device = 0;            // mknod
  mode_t mode = 0;             // mknod
  // mount: the target must be a real directory of the image, reached
  // through no symlink (/proc, /sys, /dev).
  bool real_directory = false;
};

struct RootfsPlan {
  std::string overlay_options;  // lowerdir=...,upperdir=...,workdir=...
  std::string rootfs;           // host path the overlay is mounted on
  std::vector<MountStep> before_pivot;  // relative to the new root
  std::vector<std::string> masked_paths;     // after pivot: hidden
  std::vector<std::string> readonly_paths;   // after pivot: read-only
  std::map<std::string, std::string> sysctls;  // after pivot, before /proc/sys is read-only
  std::string workdir;
  bool read_only_root = false;
};

struct RootfsInput {
  std::vector<std::string> layers;  // bottom first
  std::string upper, work, rootfs;
  std::vector<VolumeSpec> files;  // generated files (/etc/hosts, ...) bound before the volumes
};

// Pure: the complete list of mounts for a container.
RootfsPlan build_mount_plan(const ContainerSpec& spec, const RootfsInput& in);

// The overlay's options string; layers bottom first, overlayfs wants them
// top first.
std::string overlay_options(const RootfsInput& in);

enum class Symlinks {
  in_root,  // followed, but resolved inside the root (RESOLVE_IN_ROOT)
  refuse,   // any symlink on the way is an error (ELOOP)
};

// Resolves `path` inside the directory `root` as if root were "/" (symlinks
// and ".." cannot leave it: openat2 RESOLVE_IN_ROOT; /proc/self/fd/N and
// other magic links are refused), creating missing directories (and the
// last component as a file when `last_is_file`). A dangling symlink on the
// way is followed inside the root and its target created there (as runc's
// SecureJoin does), so an image's /etc/resolv.conf -> ../run/x/resolv.conf
// gets its file made under the rootfs's /run. Returns an O_PATH fd for
// mounting onto through /proc/self/fd/N.
sys::Fd open_in_root(int root, const std::string& path, bool create, bool last_is_file = false,
                     Symlinks symlinks = Symlinks::in_root);

// Run in init, in the new mount namespace. apply_before_pivot mounts the
// overlay and every step of the plan; pivot_into makes the rootfs "/";
// apply_after_pivot writes the sysctls, masks and makes paths read-only.
void apply_before_pivot(const RootfsPlan& plan);
void pivot_into(const std::string& rootfs);
void apply_after_pivot(const RootfsPlan& plan);

}  // namespace nrun::runtime
