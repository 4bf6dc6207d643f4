// The default image: a rootfs around the host's statically linked busybox,
// built without running it (nrun runs no programs), so the applet list is
// read out of the binary itself.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace nrun::runtime {

inline constexpr const char* kHostBusybox = "/usr/bin/busybox";  // package busybox-static

struct Applet {
  std::string name;
  std::string dir;  // where busybox --install puts it: "", "bin", "sbin", "usr/bin" or "usr/sbin"
};

// The applets compiled into a busybox binary, from its tables: the sorted,
// NUL-separated applet_names[] and the nibble-packed applet_install_loc[].
// Falls back to a fixed list of common applets in bin/ when the names
// cannot be found, and to bin/ for all when the locations cannot.
std::vector<Applet> busybox_applets(std::string_view binary);

// Fills the empty directory `dir` with the default rootfs: bin/busybox, a
// symlink per applet, the usual top-level directories and a minimal /etc.
// Throws sys::Error when `busybox` is missing or dynamically linked.
void build_default_rootfs(const std::filesystem::path& dir, const std::string& busybox = kHostBusybox);

}  // namespace nrun::runtime
