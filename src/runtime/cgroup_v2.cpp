// cgroup v2: one hierarchy. A controller works in a cgroup only when every
// ancestor enables it in cgroup.subtree_control, and a cgroup that enables
// controllers for its children may hold no processes itself (the root
// excepted) — so nrun's parent holds none, and the container is a leaf.
#include <unistd.h>

#include <algorithm>
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
// Enabled when the host offers them, so that stats and a later `nrun
// update` work even for a container started without limits.
const std::vector<std::string> kWanted = {"cpu", "cpuset", "memory", "pids"};

std::string plus_list(const std::vector<std::string>& controllers) {
  std::string s;
  for (const auto& c : controllers) s += (s.empty() ? "+" : " +") + c;
  return s;
}

class CgroupV2 final : public Cgroup {
 public:
  CgroupV2(fs::path base, fs::path dir) : base_(std::move(base)), dir_(std::move(dir)) {}

  void create(const Resources& r) override {
    const auto writes = cgroup_v2_writes(r, WriteMode::create);
    const auto required = check_controllers(writes);
    std::vector<std::string> enable;
    const auto available = cgroupfs::words(cgroupfs::try_read(base_ / "cgroup.controllers").value_or(""));
    for (const auto& c : kWanted)
      if (std::count(available.begin(), available.end(), c)) enable.push_back(c);
    sys::ScopeGuard undo([&] { remove(); });
    ensure_dirs(enable, required);
    apply(writes);
    undo.dismiss();
  }

  void add_process(pid_t pid) override { cgroupfs::write(dir_ / "cgroup.procs", std::to_string(pid)); }
  CgroupEntry entry() const override { return {{dir_.string()}, {(dir_ / "cgroup.procs").string()}, dir_.string()}; }

  void update(const Resources& r) override {
    const auto writes = cgroup_v2_writes(r, WriteMode::update);
    check_controllers(writes);
    apply(writes);
  }

  CgroupStats stats() const override {
    CgroupStats s;
    s.cpu_usage_ns = cgroupfs::read_key(dir_ / "cpu.stat", "usage_usec").value_or(0) * 1000;
    const uint64_t usage = cgroupfs::read_u64(dir_ / "memory.current").value_or(0);
    const uint64_t inactive = cgroupfs::read_key(dir_ / "memory.stat", "inactive_file").value_or(0);
    s.memory_usage = usage > inactive ? usage - inactive : usage;
    s.memory_limit = cgroupfs::read_u64(dir_ / "memory.max");
    s.pids = cgroupfs::read_u64(dir_ / "pids.current").value_or(0);
    s.pids_limit = cgroupfs::read_u64(dir_ / "pids.max");
    return s;
  }

  bool oom_killed() const override { return cgroupfs::read_key(dir_ / "memory.events", "oom_kill").value_or(0) > 0; }

  // cgroup.freeze asks; cgroup.events says "frozen 1" once every process
  // has stopped (Documentation/admin-guide/cgroup-v2.rst, Linux 5.2).
  void freeze(std::chrono::milliseconds timeout) override {
    const fs::path file = dir_ / "cgroup.freeze";
    if (!fs::exists(file))
      throw sys::Error("cannot freeze cgroup '" + dir_.string() + "': the kernel has no cgroup v2 freezer (Linux 5.2+)");
    sys::ScopeGuard undo([&] { thaw(); });
    cgroupfs::write(file, "1");
    const auto deadline = Clock::now() + timeout;
    while (!frozen()) {
      if (Clock::now() >= deadline)
        throw sys::Error("freeze cgroup '" + dir_.string() + "': its processes did not stop within " +
                         std::to_string(timeout.count()) + " ms");
      ::usleep(1'000);
    }
    undo.dismiss();
  }

  void thaw() override {
    try {
      cgroupfs::write(dir_ / "cgroup.freeze", "0");
    } catch (const sys::SysError& e) {
      if (e.err() != ENOENT && e.err() != ENODEV) throw;  // no freezer, or removed: nothing to thaw
    }
  }

  bool frozen() const override { return cgroupfs::read_key(dir_ / "cgroup.events", "frozen").value_or(0) == 1; }

  void remove() override {
    // cgroup.kill reaches frozen processes, but the one-by-one SIGKILL of
    // kernels before 5.14 waits for them to thaw.
    try {
      thaw();
    } catch (const std::exception& e) {
      log::debug("thaw '" + dir_.string() + "' before removing it: " + sys::describe(e) + ", ignoring");
    }
    cgroupfs::remove_dir(dir_, kRemoveTimeout);
    if (dir_.parent_path().filename() == "nrun") cgroupfs::remove_if_unused(dir_.parent_path());
  }

  nlohmann::json to_json() const override {
    return {{"driver", "v2"}, {"base", base_.string()}, {"path", dir_.string()}};
  }

 private:
  // The controllers the writes need; throws naming one the host does not
  // delegate to nrun's cgroup.
  std::set<std::string> check_controllers(const std::vector<CgroupWrite>& writes) const {
    std::set<std::string> required;
    for (const auto& w : writes) required.insert(w.controller);
    const auto available = cgroupfs::words(cgroupfs::try_read(base_ / "cgroup.controllers").value_or(""));
    for (const auto& c : required)
      if (!std::count(available.begin(), available.end(), c))
        throw sys::Error("cannot apply the " + c + " limits: the cgroup controller '" + c + "' is not available in '" +
                         base_.string() + "'");
    return required;
  }

  // base_/.../dir_, enabling the controllers in each directory above dir_.
  void ensure_dirs(const std::vector<std::string>& enable, const std::set<std::string>& required) {
    std::vector<fs::path> chain{base_};
    for (const auto& part : dir_.lexically_relative(base_)) chain.push_back(chain.back() / part);
    for (int attempt = 0;; ++attempt) {
      try {
        for (size_t i = 0; i < chain.size(); ++i) {
          if (i > 0) cgroupfs::ensure_dir(chain[i]);
          if (i + 1 < chain.size()) enable_controllers(chain[i], enable, required);
        }
        return;
      } catch (const sys::SysError& e) {
        // nrun's parent was removed by the teardown of the last container
        // using it, between our steps: make it again.
        if (e.err() != ENOENT || attempt == 4) throw;
      }
    }
  }

  void enable_controllers(const fs::path& dir, const std::vector<std::string>& enable,
                          const std::set<std::string>& required) {
    const fs::path file = dir / "cgroup.subtree_control";
    const auto current = cgroupfs::words(cgroupfs::try_read(file).value_or(""));
    std::vector<std::string> missing;
    for (const auto& c : enable)
      if (!std::count(current.begin(), current.end(), c)) missing.push_back(c);
    if (missing.empty()) return;
    try {
      cgroupfs::write(file, plus_list(missing));
      return;
    } catch (const sys::SysError& e) {
      if (e.err() == ENOENT) throw;
      log::debug(std::string(e.what()) + ", enabling one by one");
    }
    // One at a time, so the error names the controller that failed.
    for (const auto& c : missing) {
      try {
        cgroupfs::write(file, "+" + c);
      } catch (const sys::SysError& e) {
        if (e.err() == ENOENT) throw;
        if (required.count(c))
          std::throw_with_nested(sys::Error("enable the cgroup controller '" + c + "' in '" + dir.string() + "'" +
                                            (e.err() == EBUSY ? " (that cgroup holds processes)" : "")));
        log::debug(std::string(e.what()) + ", ignoring");
      }
    }
  }

  void apply(const std::vector<CgroupWrite>& writes) {
    for (const auto& w : writes) {
      const fs::path file = dir_ / w.file;
      if (!fs::exists(file)) {
        if (w.optional) {
          log::debug("no " + file.string() + " (swap accounting is off), ignoring");
          continue;
        }
        throw sys::Error("cannot set " + w.file + ": the cgroup controller '" + w.controller + "' is not enabled in '" +
                         dir_.string() + "'");
      }
      cgroupfs::write(file, w.value);
    }
  }

  fs::path base_, dir_;
};
}  // namespace

std::unique_ptr<Cgroup> make_cgroup_v2(fs::path base, fs::path dir) {
  return std::make_unique<CgroupV2>(std::move(base), std::move(dir));
}

}  // namespace nrun::runtime
