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

bool is_number(const std::string& s) {
  return !s.empty() && s.size() < 11 && s.find_first_not_of("0123456789") == std::string::npos;
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

UserIds resolve_user(const std::string& spec, const std::string& passwd, const std::string& group) {
  if (spec.empty()) throw sys::UsageError("empty user");
  const auto colon = spec.find(':');
  const std::string user = spec.substr(0, colon);
  const std::string grp = colon == std::string::npos ? "" : spec.substr(colon + 1);
  UserIds ids;
  bool found = false;
  std::string user_name;
  std::istringstream pw(passwd);
  for (std::string line; std::getline(pw, line);) {
    const auto f = split(line, ':');  // name:x:uid:gid:gecos:home:shell
    if (f.size() < 7 || !is_number(f[2]) || !is_number(f[3])) continue;
    if (f[0] == user || (is_number(user) && f[2] == user)) {
      ids.uid = static_cast<uid_t>(std::stoul(f[2]));
      ids.gid = static_cast<gid_t>(std::stoul(f[3]));
      ids.home = f[5].empty() ? "/" : f[5];
      user_name = f[0];
      found = true;
      break;
    }
  }
  if (!found) {
    if (!is_number(user)) throw sys::UsageError("unable to find user '" + user + "': no matching entry in passwd file");
    ids.uid = static_cast<uid_t>(std::stoul(user));
    ids.gid = 0;
  }
  std::istringstream gr(group);
  bool group_found = grp.empty();
  for (std::string line; std::getline(gr, line);) {
    const auto f = split(line, ':');  // name:x:gid:members
    if (f.size() < 3 || !is_number(f[2])) continue;
    const auto gid = static_cast<gid_t>(std::stoul(f[2]));
    if (!grp.empty() && (f[0] == grp || (is_number(grp) && f[2] == grp))) {
      ids.gid = gid;
      group_found = true;
    }
    if (f.size() >= 4 && !user_name.empty())
      for (const auto& m : split(f[3], ','))
        if (m == user_name) ids.groups.push_back(gid);
  }
  if (!group_found) {
    if (!is_number(grp)) throw sys::UsageError("unable to find group '" + grp + "': no matching entry in group file");
    ids.gid = static_cast<gid_t>(std::stoul(grp));
  }
  return ids;
}

void add_groups(UserIds& ids, const std::vector<std::string>& group_add, const std::string& group) {
  for (const auto& g : group_add) {
    std::optional<gid_t> gid;
    if (is_number(g)) gid = static_cast<gid_t>(std::stoul(g));
    std::istringstream gr(group);
    for (std::string line; !gid && std::getline(gr, line);) {
      const auto f = split(line, ':');
      if (f.size() >= 3 && is_number(f[2]) && f[0] == g) gid = static_cast<gid_t>(std::stoul(f[2]));
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
