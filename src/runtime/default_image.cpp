#include "runtime/default_image.hpp"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <exception>
#include <optional>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;
using sys::Error;

namespace {

// Used when the binary's name table cannot be found: what containers
// commonly run.
constexpr const char* kFallbackApplets[] = {
    "sh",    "ash",    "ls",      "cat",   "echo",     "sleep", "true",   "false", "hostname", "id",
    "mount", "umount", "env",     "kill",  "mkdir",    "rm",    "rmdir",  "touch", "cp",       "mv",
    "ln",    "chmod",  "chown",   "grep",  "sed",      "awk",   "vi",     "ps",    "top",      "ip",
    "ping",  "wget",   "nc",      "httpd", "ifconfig", "route", "head",   "tail",  "wc",       "sort",
    "uniq",  "cut",    "tr",      "find",  "xargs",    "tar",   "gzip",   "gunzip", "date",    "uname",
    "pwd",   "test",   "[",       "[[",    "printf",   "which", "whoami", "dd",    "df",       "du",
    "free",  "uptime", "nslookup", "telnet", "netstat", "more", "less",   "stat",  "readlink", "realpath",
    "basename", "dirname", "seq", "yes",   "tee",      "diff",  "md5sum", "sha256sum", "login", "su",
};

// The installation directories of BB_DIR_ROOT .. BB_DIR_USR_SBIN
// (busybox include/applet_metadata.h).
constexpr std::array<const char*, 5> kInstallDirs = {"", "bin", "sbin", "usr/bin", "usr/sbin"};

bool is_applet_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '[' ||
         c == ']';
}

bool is_applet_token(std::string_view t) {
  if (t.empty() || t.size() > 32) return false;
  for (char c : t)
    if (!is_applet_char(c)) return false;
  return true;
}

// applet_names[] is "[\0[[\0acpid\0...", sorted with strcmp for the binary
// search busybox does on argv[0]. The longest run of NUL-terminated applet
// tokens in strictly ascending order is that table.
std::vector<std::string> find_applet_names(std::string_view bin) {
  size_t best_begin = 0, best_count = 0;
  size_t run_begin = 0, run_count = 0;
  std::string_view prev;
  size_t pos = 0;
  while (pos < bin.size()) {
    const size_t nul = bin.find('\0', pos);
    if (nul == std::string_view::npos) break;
    const std::string_view tok = bin.substr(pos, nul - pos);
    if (!is_applet_token(tok)) {
      run_count = 0;
    } else {
      if (run_count == 0 || !(prev < tok)) {
        run_begin = pos;
        run_count = 0;
      }
      ++run_count;
      prev = tok;
      if (run_count > best_count) {
        best_begin = run_begin;
        best_count = run_count;
      }
    }
    pos = nul + 1;
  }
  std::vector<std::string> names;
  if (best_count < 10) return names;  // not a busybox name table
  pos = best_begin;
  for (size_t i = 0; i < best_count; ++i) {
    const size_t nul = bin.find('\0', pos);
    names.emplace_back(bin.substr(pos, nul - pos));
    pos = nul + 1;
  }
  return names;
}

// applet_install_loc[] packs one BB_DIR_* code (0..4) per nibble, the low
// nibble first, in the order of applet_names[]. Applets whose directory
// every busybox build agrees on pin the table down.
std::optional<std::vector<int>> find_install_dirs(std::string_view bin, const std::vector<std::string>& names) {
  static constexpr std::pair<const char*, int> kKnown[] = {
      {"sh", 1}, {"ls", 1}, {"cat", 1}, {"mount", 1}, {"env", 3}, {"ifconfig", 2}, {"wget", 3}, {"chroot", 4},
  };
  std::vector<std::pair<size_t, int>> pins;
  for (const auto& [name, dir] : kKnown)
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) pins.emplace_back(i, dir);
  if (pins.size() < 3) return std::nullopt;

  auto nibble = [&](size_t start, size_t i) {
    const auto byte = static_cast<unsigned char>(bin[start + i / 2]);
    return (i & 1) ? byte >> 4 : byte & 0xf;
  };
  const size_t len = (names.size() + 1) / 2;
  for (size_t start = 0; start + len <= bin.size(); ++start) {
    bool match = true;
    for (const auto& [i, dir] : pins)
      if (nibble(start, i) != dir) {
        match = false;
        break;
      }
    if (!match) continue;
    std::vector<int> dirs(names.size());
    for (size_t i = 0; i < names.size() && match; ++i) {
      dirs[i] = nibble(start, i);
      match = dirs[i] < static_cast<int>(kInstallDirs.size());
    }
    if (match && (names.size() % 2 == 0 || nibble(start, names.size()) == 0)) return dirs;
  }
  return std::nullopt;
}

// True when the ELF binary asks for a program interpreter (ld.so), which a
// container rootfs holding only busybox does not have.
template <class Ehdr, class Phdr>
bool elf_has_interp(std::string_view bin) {
  Ehdr eh;
  if (bin.size() < sizeof eh) throw Error("truncated ELF header");
  std::memcpy(&eh, bin.data(), sizeof eh);
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    const size_t off = eh.e_phoff + i * eh.e_phentsize;
    Phdr ph;
    if (off + sizeof ph > bin.size()) throw Error("truncated ELF program header");
    std::memcpy(&ph, bin.data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

void check_static_elf(std::string_view bin, const std::string& path) {
  if (bin.size() < EI_NIDENT || std::memcmp(bin.data(), ELFMAG, SELFMAG) != 0)
    throw Error("'" + path + "' is not an ELF binary");
  const bool dynamic = bin[EI_CLASS] == ELFCLASS64 ? elf_has_interp<Elf64_Ehdr, Elf64_Phdr>(bin)
                                                   : elf_has_interp<Elf32_Ehdr, Elf32_Phdr>(bin);
  if (dynamic) throw Error("'" + path + "' is dynamically linked; the default image needs busybox-static");
}

void make_dir(const fs::path& p, mode_t mode) {
  sys::check(::mkdir(p.c_str(), mode), "mkdir '" + p.string() + "'");
  sys::check(::chmod(p.c_str(), mode), "chmod '" + p.string() + "'");  // the umask must not narrow 1777
}

void write_new_file(const fs::path& p, std::string_view data, mode_t mode) {
  sys::Fd fd = sys::open_path(p, O_WRONLY | O_CREAT | O_EXCL, mode);
  sys::write_all(fd.get(), data);
  sys::check(::fchmod(fd.get(), mode), "chmod '" + p.string() + "'");
}

}  // namespace

std::vector<Applet> busybox_applets(std::string_view binary) {
  std::vector<Applet> out;
  const std::vector<std::string> names = find_applet_names(binary);
  if (names.empty()) {
    for (const char* name : kFallbackApplets) out.push_back({name, "bin"});
    return out;
  }
  const auto dirs = find_install_dirs(binary, names);
  for (size_t i = 0; i < names.size(); ++i) out.push_back({names[i], dirs ? kInstallDirs[(*dirs)[i]] : "bin"});
  return out;
}

void build_default_rootfs(const fs::path& dir, const std::string& busybox) {
  std::string bin;
  try {
    bin = sys::read_file(busybox);
  } catch (const sys::SysError&) {
    std::throw_with_nested(Error("the default image needs a static busybox at '" + busybox +
                                 "' (package busybox-static)"));
  }
  check_static_elf(bin, busybox);

  for (const char* d : {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "var", "home"})
    make_dir(dir / d, 0755);
  make_dir(dir / "root", 0700);
  make_dir(dir / "tmp", 01777);
  write_new_file(dir / "bin/busybox", bin, 0755);

  const auto applets = busybox_applets(bin);
  for (const auto& a : applets) {
    if (a.name == "busybox") continue;  // the binary itself
    const fs::path link = dir / a.dir / a.name;
    // busybox picks the applet from argv[0]'s basename.
    if (::symlink("/bin/busybox", link.c_str()) != 0 && errno != EEXIST) {
      const int e = errno;
      throw sys::SysError(e, "symlink '" + link.string() + "'");
    }
  }

  write_new_file(dir / "etc/passwd",
                 "root:x:0:0:root:/root:/bin/sh\n"
                 "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
                 0644);
  write_new_file(dir / "etc/group",
                 "root:x:0:\n"
                 "nogroup:x:65534:\n",
                 0644);
  write_new_file(dir / "etc/hosts",
                 "127.0.0.1\tlocalhost\n"
                 "::1\tlocalhost ip6-localhost ip6-loopback\n",
                 0644);
  write_new_file(dir / "etc/nsswitch.conf", "hosts: files dns\n", 0644);
  // Filled in per container by the network code.
  write_new_file(dir / "etc/resolv.conf", "", 0644);
  log::debug("built the default rootfs in '" + dir.string() + "' with " + std::to_string(applets.size()) +
             " applets");
}

}  // namespace nrun::runtime
