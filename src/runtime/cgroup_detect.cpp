// Which cgroup hierarchy to use and where nrun itself sits in it, from the
// texts of /proc/self/mountinfo and /proc/self/cgroup (proc(5)).
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "runtime/cgroup.hpp"
#include "runtime/resource_parse.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;

namespace {
// Every v1 controller the kernel has (the others are mount options).
constexpr std::string_view kAllV1Controllers[] = {"blkio",    "cpu",        "cpuacct", "cpuset", "devices",
                                                  "freezer",  "hugetlb",    "memory",  "misc",   "net_cls",
                                                  "net_prio", "perf_event", "pids",    "rdma"};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t end = s.find(sep, start);
    out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 3)), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The directory of cgroup `own` (a path in the hierarchy) under a mount of
// that hierarchy whose root is `root`. Inside a cgroup namespace both are
// relative to the namespace's root, and the root is "/".
fs::path cgroup_dir(const CgroupMount& m, const std::string& own) {
  std::string rel = own;
  if (m.root != "/" && (rel == m.root || rel.rfind(m.root + "/", 0) == 0)) rel = rel.substr(m.root.size());
  const fs::path sub = fs::path(rel).relative_path();
  return sub.empty() ? fs::path(m.mountpoint) : fs::path(m.mountpoint) / sub;
}
}  // namespace

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMount> out;
  std::istringstream in{std::string(mountinfo)};
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mountpoint options [optional...] - fstype source super-options
    const auto fields = split(line, ' ');
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || fields.end() - dash < 2) continue;
    const std::string& fstype = *(dash + 1);
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m;
    m.root = unescape(fields[3]);
    m.mountpoint = unescape(fields[4]);
    m.unified = fstype == "cgroup2";
    if (!m.unified && dash + 3 < fields.end()) {
      for (const auto& opt : split(*(dash + 3), ','))
        if (std::count(std::begin(kAllV1Controllers), std::end(kAllV1Controllers), opt) || opt.rfind("name=", 0) == 0)
          m.controllers.push_back(opt);
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::map<std::string, std::string> parse_proc_cgroup(std::string_view text) {
  std::map<std::string, std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    // hierarchy-id:controller-list:path (the path may itself hold ':')
    const auto a = line.find(':');
    const auto b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string list = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (list.empty()) {
      out[""] = path;
      continue;
    }
    for (const auto& c : split(list, ',')) out[c] = path;
  }
  return out;
}

CgroupLayout detect_cgroup_layout(std::string_view mountinfo, std::string_view proc_self_cgroup) {
  const auto mounts = parse_cgroup_mounts(mountinfo);
  const auto own = parse_proc_cgroup(proc_self_cgroup);
  CgroupLayout out;
  for (const auto& c : kCgroupV1Controllers) {
    const auto m = std::find_if(mounts.begin(), mounts.end(), [&](const CgroupMount& m) {
      return !m.unified && std::count(m.controllers.begin(), m.controllers.end(), c);
    });
    const auto path = own.find(c);
    if (m != mounts.end() && path != own.end()) out.v1[c] = cgroup_dir(*m, path->second);
  }
  if (!out.v1.empty()) {
    // Hybrid hosts also mount an (often empty) cgroup2; with the
    // controllers on v1, v1 it is, for every controller.
    out.version = CgroupVersion::v1;
    return out;
  }
  const auto path = own.find("");
  if (path == own.end()) return out;
  const CgroupMount* unified = nullptr;
  for (const auto& m : mounts)
    if (m.unified && (!unified || m.mountpoint == "/sys/fs/cgroup")) unified = &m;
  if (!unified) return out;
  out.version = CgroupVersion::v2;
  out.v2_mount = unified->mountpoint;
  out.v2_own = cgroup_dir(*unified, path->second);
  return out;
}

CgroupLayout host_cgroup_layout() {
  return detect_cgroup_layout(sys::read_file("/proc/self/mountinfo"), sys::read_file("/proc/self/cgroup"));
}

std::vector<int> host_online_cpus() {
  try {
    std::string text = sys::read_file("/sys/devices/system/cpu/online");
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (auto cpus = try_parse_cpu_list(text)) return *cpus;
  } catch (const std::exception&) {
    // No sysfs: fall back to the count below.
  }
  std::vector<int> cpus;
  for (long i = 0, n = ::sysconf(_SC_NPROCESSORS_ONLN); i < n; ++i) cpus.push_back(static_cast<int>(i));
  return cpus;
}

}  // namespace nrun::runtime
