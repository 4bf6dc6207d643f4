#include "runtime/user.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {
namespace {
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// A passwd or group file's id field; nullopt for one nrun would refuse on
// the command line, so that such an entry can never match.
std::optional<uint32_t> id_field(const std::string& s) {
  if (!all_digits(s) || s.size() > 10) return std::nullopt;
  const unsigned long long v = std::stoull(s);
  if (v > kMaxId) return std::nullopt;
  return static_cast<uint32_t>(v);
}

constexpr off_t kMaxDatabaseSize = 4 << 20;

// The image's file, if it is a plain file: O_NONBLOCK so a FIFO cannot
// hold the process, fstat so a device (/dev/zero) is not read forever.
std::string read_image_file(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return "";
  sys::Fd f(fd);
  struct stat st;
  if (::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxDatabaseSize) return "";
  std::string out;
  char buf[8192];
  for (ssize_t n; (n = ::read(f.get(), buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      return "";
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > static_cast<size_t>(kMaxDatabaseSize)) return "";
  }
  return out;
}
}  // namespace

std::optional<uint32_t> parse_numeric_id(const std::string& s, const char* what) {
  if (!all_digits(s)) return std::nullopt;
  const auto id = id_field(s);
  if (!id)
    throw sys::UsageError("invalid " + std::string(what) + " '" + s + "': ids go from 0 to " +
                          std::to_string(kMaxId));
  return id;
}

void validate_user_spec(const std::string& spec, const std::vector<std::string>& group_add) {
  if (!spec.empty()) {
    const auto colon = spec.find(':');
    parse_numeric_id(spec.substr(0, colon), "uid");
    if (colon != std::string::npos) parse_numeric_id(spec.substr(colon + 1), "gid");
  }
  for (const auto& g : group_add) parse_numeric_id(g, "gid");
}

// A number is always an id, never a name (runc's rule, CVE-2016-3697): an
// image whose passwd names a user "1" with uid 0 must not make `-u 1` root.
UserIds resolve_user(const std::string& spec, const std::string& passwd, const std::string& group) {
  if (spec.empty()) throw sys::UsageError("empty user");
  const auto colon = spec.find(':');
  const std::string user = spec.substr(0, colon);
  const std::string grp = colon == std::string::npos ? "" : spec.substr(colon + 1);
  const auto uid = parse_numeric_id(user, "uid");
  const auto wanted_gid = grp.empty() ? std::nullopt : parse_numeric_id(grp, "gid");
  UserIds ids;
  bool found = false;
  std::string user_name;
  std::istringstream pw(passwd);
  for (std::string line; std::getline(pw, line);) {
    const auto f = split(line, ':');  // name:x:uid:gid:gecos:home:shell
    if (f.size() < 7) continue;
    const auto entry_uid = id_field(f[2]), entry_gid = id_field(f[3]);
    if (!entry_uid || !entry_gid) continue;
    if (uid ? *entry_uid == *uid : f[0] == user) {
      ids.uid = *entry_uid;
      ids.gid = *entry_gid;
      ids.home = f[5].empty() ? "/" : f[5];
      user_name = f[0];
      found = true;
      break;
    }
  }
  if (!found) {
    if (!uid) throw sys::UsageError("unable to find user '" + user + "': no matching entry in passwd file");
    ids.uid = *uid;
    ids.gid = 0;
  }
  if (wanted_gid) ids.gid = *wanted_gid;
  bool group_found = grp.empty() || wanted_gid.has_value();
  std::istringstream gr(group);
  for (std::string line; std::getline(gr, line);) {
    const auto f = split(line, ':');  // name:x:gid:members
    if (f.size() < 3) continue;
    const auto gid = id_field(f[2]);
    if (!gid) continue;
    if (!group_found && f[0] == grp) {
      ids.gid = *gid;
      group_found = true;
    }
    if (f.size() >= 4 && !user_name.empty())
      for (const auto& m : split(f[3], ','))
        if (m == user_name) ids.groups.push_back(*gid);
  }
  if (!group_found) throw sys::UsageError("unable to find group '" + grp + "': no matching entry in group file");
  return ids;
}

void add_groups(UserIds& ids, const std::vector<std::string>& group_add, const std::string& group) {
  for (const auto& g : group_add) {
    std::optional<gid_t> gid = parse_numeric_id(g, "gid");
    std::istringstream gr(group);
    for (std::string line; !gid && std::getline(gr, line);) {
      const auto f = split(line, ':');
      if (f.size() >= 3 && f[0] == g) gid = id_field(f[2]);
    }
    if (!gid) throw sys::UsageError("unable to find group '" + g + "': no matching entry in group file");
    if (std::find(ids.groups.begin(), ids.groups.end(), *gid) == ids.groups.end()) ids.groups.push_back(*gid);
  }
}

UserIds resolve_user_in_current_root(const std::string& spec, const std::vector<std::string>& group_add) {
  const std::string passwd = read_image_file("/etc/passwd"), group = read_image_file("/etc/group");
  UserIds ids = resolve_user(spec.empty() ? "0" : spec, passwd, group);
  add_groups(ids, group_add, group);
  return ids;
}

}  // namespace nrun::runtime
