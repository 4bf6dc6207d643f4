// cgroup v1: one hierarchy per controller (or per group of controllers
// mounted together), so a container has a directory in each.
#include <unistd.h>

#include <chrono>
#include <set>

#include "runtime/cgroup.hpp"
#include "runtime/cgroup_fs.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/scope_guard.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kRemoveTimeout = 5s;
// v1 reports "no limit" as the largest page-aligned counter.
constexpr uint64_t kUnlimitedAbove = uint64_t{1} << 62;

// A new cpuset cgroup starts with no CPUs and no memory nodes, and takes no
// task until it has both: copy them from the parent.
void inherit_cpuset(const fs::path& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    const auto mine = cgroupfs::try_read(dir / file);
    if (!mine || !mine->empty()) continue;
    const auto parent = cgroupfs::try_read(dir.parent_path() / file);
    if (parent && !parent->empty()) cgroupfs::write(dir / file, *parent);
  }
}

// mkdir -p of dir; with cpuset, each new level inherits its parent's CPUs
// and memory nodes.
void ensure_tree(const fs::path& dir, bool cpuset) {
  for (int attempt = 0;; ++attempt) {
    std::vector<fs::path> missing;
    for (fs::path p = dir; !fs::exists(p) && p.has_relative_path(); p = p.parent_path())
      missing.insert(missing.begin(), p);
    try {
      for (const auto& p : missing) cgroupfs::ensure_dir(p);
      if (cpuset) {
        inherit_cpuset(dir.parent_path());
        inherit_cpuset(dir);
      }
      return;
    } catch (const sys::SysError& e) {
      // nrun's parent was removed by the teardown of the last container
      // using it, between our checks: make it again.
      if (e.err() != ENOENT || attempt == 4) throw;
    }
  }
}

class CgroupV1 final : public Cgroup {
 public:
  explicit CgroupV1(std::map<std::string, fs::path> dirs) : dirs_(std::move(dirs)) {}

  void create(const Resources& r) override {
    const auto writes = cgroup_v1_writes(r, WriteMode::create);
    check_controllers(writes);
    sys::ScopeGuard undo([&] { remove(); });
    for (const auto& [controller, dir] : dirs_) ensure_tree(dir, controller == "cpuset");
    apply(writes);
    undo.dismiss();
  }

  void add_process(pid_t pid) override {
    for (const auto& dir : unique_dirs()) cgroupfs::write(dir / "cgroup.procs", std::to_string(pid));
  }

  CgroupEntry entry() const override {
    CgroupEntry e;
    for (const auto& dir : unique_dirs()) {
      e.dirs.push_back(dir.string());
      e.self_join.push_back((dir / "tasks").string());
    }
    return e;
  }

  void update(const Resources& r) override {
    const auto writes = cgroup_v1_writes(r, WriteMode::update);
    check_controllers(writes);
    apply(writes);
  }

  CgroupStats stats() const override {
    CgroupStats s;
    if (const fs::path* d = dir_of("cpuacct")) s.cpu_usage_ns = cgroupfs::read_u64(*d / "cpuacct.usage").value_or(0);
    if (const fs::path* d = dir_of("memory")) {
      const uint64_t usage = cgroupfs::read_u64(*d / "memory.usage_in_bytes").value_or(0);
      const uint64_t inactive = cgroupfs::read_key(*d / "memory.stat", "total_inactive_file").value_or(0);
      s.memory_usage = usage > inactive ? usage - inactive : usage;
      const auto limit = cgroupfs::read_u64(*d / "memory.limit_in_bytes");
      if (limit && *limit < kUnlimitedAbove) s.memory_limit = limit;
    }
    if (const fs::path* d = dir_of("pids")) {
      s.pids = cgroupfs::read_u64(*d / "pids.current").value_or(0);
      s.pids_limit = cgroupfs::read_u64(*d / "pids.max");
    }
    return s;
  }

  bool oom_killed() const override {
    const fs::path* d = dir_of("memory");
    if (!d) return false;
    // The oom_kill counter came with Linux 4.13; under_oom is what older
    // kernels offer (and shows only while the cgroup is still at its limit).
    if (auto n = cgroupfs::read_key(*d / "memory.oom_control", "oom_kill")) return *n > 0;
    if (auto n = cgroupfs::read_key(*d / "memory.events", "oom_kill")) return *n > 0;
    return cgroupfs::read_key(*d / "memory.oom_control", "under_oom").value_or(0) > 0;
  }

  // As runc's freezer: write FROZEN, read freezer.state until the kernel
  // says FROZEN rather than FREEZING. A task caught where it cannot freeze
  // (in vfork, or in an uninterruptible wait that needs another task of the
  // cgroup) can keep the cgroup FREEZING, so every 50 rounds the cgroup
  // thaws for 10 ms to let it past.
  void freeze(std::chrono::milliseconds timeout) override {
    const fs::path* d = dir_of("freezer");
    if (!d)
      throw sys::Error("the container's cgroup has no freezer: the cgroup v1 freezer hierarchy is not mounted on "
                       "this host (or was not when the container started)");
    const fs::path state = *d / "freezer.state";
    sys::ScopeGuard undo([&] { thaw(); });
    const auto deadline = Clock::now() + timeout;
    for (int round = 0;; ++round) {
      if (round % 50 == 49) {
        cgroupfs::write(state, "THAWED");
        ::usleep(10'000);
      }
      cgroupfs::write(state, "FROZEN");
      const std::string now = cgroupfs::try_read(state).value_or("");
      if (now == "FROZEN") break;
      if (now != "FREEZING")
        throw sys::Error("freeze cgroup '" + d->string() + "': unexpected freezer.state '" + now + "'");
      if (Clock::now() >= deadline)
        throw sys::Error("freeze cgroup '" + d->string() + "': its processes did not stop within " +
                         std::to_string(timeout.count()) + " ms");
      ::usleep(1'000);
    }
    undo.dismiss();
  }

  void thaw() override {
    const fs::path* d = dir_of("freezer");
    if (!d) return;
    try {
      cgroupfs::write(*d / "freezer.state", "THAWED");
    } catch (const sys::SysError& e) {
      if (e.err() != ENOENT && e.err() != ENODEV) throw;  // removed: nothing left to thaw
    }
  }

  bool frozen() const override {
    const fs::path* d = dir_of("freezer");
    return d && cgroupfs::try_read(*d / "freezer.state") == "FROZEN";
  }

  void remove() override {
    std::string failed;
    try {
      thaw();
    } catch (const std::exception& e) {
      failed = sys::describe(e);
    }
    for (const auto& dir : unique_dirs()) {
      try {
        cgroupfs::remove_dir(dir, kRemoveTimeout);
        if (dir.parent_path().filename() == "nrun") cgroupfs::remove_if_unused(dir.parent_path());
      } catch (const std::exception& e) {
        failed += (failed.empty() ? "" : "; ") + sys::describe(e);
      }
    }
    if (!failed.empty()) throw sys::Error(failed);
  }

  nlohmann::json to_json() const override {
    nlohmann::json paths = nlohmann::json::object();
    for (const auto& [controller, dir] : dirs_) paths[controller] = dir.string();
    return {{"driver", "v1"}, {"paths", paths}};
  }

 private:
  const fs::path* dir_of(const std::string& controller) const {
    const auto it = dirs_.find(controller);
    return it == dirs_.end() ? nullptr : &it->second;
  }

  std::vector<fs::path> unique_dirs() const {
    std::set<fs::path> seen;
    std::vector<fs::path> out;
    for (const auto& [controller, dir] : dirs_)
      if (seen.insert(dir).second) out.push_back(dir);
    return out;
  }

  void check_controllers(const std::vector<CgroupWrite>& writes) const {
    for (const auto& w : writes)
      if (!dir_of(w.controller))
        throw sys::Error("cannot set " + w.file + ": the cgroup controller '" + w.controller +
                         "' is not mounted on this host");
  }

  void apply(const std::vector<CgroupWrite>& writes) {
    for (size_t i = 0; i < writes.size(); ++i) {
      const auto& w = writes[i];
      const fs::path file = *dir_of(w.controller) / w.file;
      if (!fs::exists(file)) {
        if (w.optional) {
          log::debug("no " + file.string() + " (swap accounting is off), ignoring");
          continue;
        }
        throw sys::Error("cannot set " + w.file + ": the kernel's '" + w.controller + "' controller has no such file");
      }
      try {
        cgroupfs::write(file, w.value);
      } catch (const sys::SysError& e) {
        // The memory limit may never exceed memory + swap: when raising it
        // past the current memsw limit, memsw has to move first.
        const bool memsw_next = i + 1 < writes.size() && writes[i + 1].file == "memory.memsw.limit_in_bytes";
        if (e.err() != EINVAL || w.file != "memory.limit_in_bytes" || !memsw_next) throw;
        cgroupfs::write(*dir_of("memory") / writes[i + 1].file, writes[i + 1].value);
        cgroupfs::write(file, w.value);
        ++i;
      }
    }
  }

  std::map<std::string, fs::path> dirs_;
};
}  // namespace

std::unique_ptr<Cgroup> make_cgroup_v1(std::map<std::string, fs::path> dirs) {
  return std::make_unique<CgroupV1>(std::move(dirs));
}

}  // namespace nrun::runtime
