#include "runtime/name_index.hpp"

#include <unistd.h>

#include <cerrno>
#include <climits>

#include "runtime/sys/error.hpp"
#include "runtime/sys/ids.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;

namespace {
// Names come from validated specs, but the index must never be a way out
// of its directory whatever it is given.
void check_entry_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || name.size() > NAME_MAX)
    throw sys::Error("container name '" + name + "' cannot be indexed");
}

void unlink_if_exists(const fs::path& p) {
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
    const int e = errno;
    throw sys::SysError(e, "remove name entry '" + p.string() + "'");
  }
}
}  // namespace

NameIndex::NameIndex(fs::path dir) : dir_(std::move(dir)) {}

bool NameIndex::ready() const {
  std::error_code ec;
  return fs::is_directory(dir_, ec);
}

void NameIndex::build(const std::vector<std::pair<std::string, std::string>>& names) const {
  const fs::path tmp = dir_.parent_path() / (dir_.filename().string() + ".tmp-" + sys::random_hex(8));
  fs::create_directories(tmp);
  try {
    for (const auto& [name, id] : names) {
      check_entry_name(name);
      // Two records with one name (made by hand, or by an nrun that raced
      // without a lock): the first keeps the entry, as resolve did.
      if (::symlink(id.c_str(), (tmp / name).c_str()) != 0 && errno != EEXIST) {
        const int e = errno;
        throw sys::SysError(e, "index container name '" + name + "'");
      }
    }
    fs::rename(tmp, dir_);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

bool NameIndex::claim(const std::string& name, const std::string& id, const RecordExists& exists) const {
  check_entry_name(name);
  const fs::path entry = dir_ / name;
  // A missing directory or a stale entry costs one more try each; the
  // caller's lock keeps other claimants out meanwhile.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::symlink(id.c_str(), entry.c_str()) == 0) return true;
    const int e = errno;
    if (e == ENOENT) {
      fs::create_directories(dir_);
      continue;
    }
    if (e != EEXIST) throw sys::SysError(e, "claim container name '" + name + "'");
    const auto holder = lookup(name);
    if (holder && *holder == id) return true;
    if (holder && exists(*holder)) return false;
    unlink_if_exists(entry);  // its record is gone: a crash between the two
  }
  throw sys::Error("claim container name '" + name + "': the entry keeps coming back (is an nrun without the store lock running?)");
}

std::optional<std::string> NameIndex::lookup(const std::string& name) const {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") return std::nullopt;
  char buf[PATH_MAX];
  const ssize_t n = ::readlink((dir_ / name).c_str(), buf, sizeof buf);
  if (n < 0) {
    const int e = errno;
    // Not there, or not a symlink (no entry nrun made): no holder.
    if (e == ENOENT || e == EINVAL || e == ENOTDIR || e == ENAMETOOLONG) return std::nullopt;
    throw sys::SysError(e, "look up container name '" + name + "'");
  }
  return std::string(buf, static_cast<size_t>(n));
}

void NameIndex::release(const std::string& name, const std::string& id) const {
  if (const auto holder = lookup(name); holder && *holder == id) unlink_if_exists(dir_ / name);
}

}  // namespace nrun::runtime
