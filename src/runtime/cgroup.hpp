// Cgroups: one driver interface with a v1 and a v2 implementation, the
// detection that picks one, and the module's hooks for the launch sequence.
// The rest of the runtime sees only `Cgroup` and the JSON it records in
// ContainerState::cgroup.
//
// Every path is a parameter (youki's pattern): the drivers take the
// directories they manage, detection takes the text of mountinfo and
// /proc/self/cgroup, so unit tests run against a fake tree in a temp dir.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cgroup_entry.hpp"
#include "runtime/resources.hpp"
#include "runtime/state.hpp"

namespace nrun::runtime {

// ------------------------------------------------ detection (cgroup_detect.cpp)

// The v1 controllers nrun places a container in. cpuacct only counts CPU
// time (for stats); it is often mounted together with cpu. freezer sets no
// limit: it stops the container's processes while `nrun commit` copies its
// files (Cgroup::freeze).
inline const std::vector<std::string> kCgroupV1Controllers = {"cpu",     "cpuacct", "cpuset", "devices",
                                                              "freezer", "memory",  "pids"};

struct CgroupMount {
  std::string mountpoint;
  std::string root;                      // the mount's root in its hierarchy (mountinfo field 4)
  bool unified = false;                  // cgroup2
  std::vector<std::string> controllers;  // v1: the controllers the hierarchy carries
};
// The cgroup and cgroup2 mounts of a mountinfo text.
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);
// /proc/PID/cgroup: hierarchy -> path. The key is each v1 controller of a
// line ("cpu", "cpuacct", "name=systemd") or "" for the unified hierarchy.
std::map<std::string, std::string> parse_proc_cgroup(std::string_view text);

enum class CgroupVersion { none, v1, v2 };

struct CgroupLayout {
  CgroupVersion version = CgroupVersion::none;
  // v1: controller -> the directory of the cgroup nrun runs in.
  std::map<std::string, std::filesystem::path> v1;
  // v2: the cgroup2 mount and the directory of the cgroup nrun runs in.
  std::filesystem::path v2_mount, v2_own;
};

// v1 as soon as any v1 hierarchy carries one of kCgroupV1Controllers (this
// includes the hybrid layout, whose cgroup2 mount holds none of them);
// otherwise v2 when a cgroup2 mount exists; otherwise none.
CgroupLayout detect_cgroup_layout(std::string_view mountinfo, std::string_view proc_self_cgroup);
// The same for this process (/proc/self/mountinfo, /proc/self/cgroup).
CgroupLayout host_cgroup_layout();
// /sys/devices/system/cpu/online as a sorted list.
std::vector<int> host_online_cpus();

// ------------------------------------- limits as kernel files (cgroup_writes.cpp)

struct CgroupWrite {
  std::string controller;  // the v1 hierarchy / v2 controller the file belongs to
  std::string file;        // as the kernel names it: "memory.max", "cpu.cfs_quota_us"
  std::string value;
  bool optional = false;  // skipped when the kernel lacks the file (swap accounting off)
  bool operator==(const CgroupWrite&) const = default;
};
// create: only the limits that are set. update: every limit, unset ones back
// to the kernel's default (so `nrun update --cpus 0` lifts the CPU limit).
enum class WriteMode { create, update };
std::vector<CgroupWrite> cgroup_v1_writes(const Resources& r, WriteMode mode);
std::vector<CgroupWrite> cgroup_v2_writes(const Resources& r, WriteMode mode);

// ------------------------------------------------------------ one container

struct CgroupStats {
  uint64_t cpu_usage_ns = 0;
  uint64_t memory_usage = 0;             // bytes, inactive page cache left out as docker stats does
  std::optional<uint64_t> memory_limit;  // nullopt: unlimited
  uint64_t pids = 0;
  std::optional<uint64_t> pids_limit;  // nullopt: unlimited
};

class Cgroup {
 public:
  virtual ~Cgroup() = default;
  // Makes the container's cgroup (and nrun's parent) and writes the limits.
  // A limit needing a controller the host lacks is an error naming it. On
  // failure, removes what it made.
  virtual void create(const Resources& r) = 0;
  virtual void add_process(pid_t pid) = 0;
  // How a new process of the container gets into this cgroup.
  virtual CgroupEntry entry() const = 0;
  // New limits for a live cgroup (WriteMode::update).
  virtual void update(const Resources& r) = 0;
  virtual CgroupStats stats() const = 0;
  // True when the kernel's OOM killer killed a process of this cgroup.
  virtual bool oom_killed() const = 0;
  // The freezer, for commit's pause (and OCI pause/resume). freeze() stops
  // every process of the cgroup and returns once the kernel reports them all
  // stopped; when they do not stop within `timeout` it thaws them again and
  // throws. Throws sys::Error when the cgroup has no freezer (a v1 host
  // without the freezer hierarchy, a kernel before 5.2 on v2).
  virtual void freeze(std::chrono::milliseconds timeout) = 0;
  // Lets them run again. Idempotent; a cgroup without a freezer or already
  // removed is fine.
  virtual void thaw() = 0;
  // True when the kernel reports the cgroup frozen.
  virtual bool frozen() const = 0;
  // Kills what is left inside (thawing it first: a frozen v1 task does not
  // die of SIGKILL) and removes the directories, retrying while the kernel
  // still reports them busy; throws when one stays. Idempotent.
  virtual void remove() = 0;
  // What ContainerState::cgroup records to find this cgroup again.
  virtual nlohmann::json to_json() const = 0;
};

// controller -> the container's directory on that controller's hierarchy
// (controllers mounted together share one directory).
std::unique_ptr<Cgroup> make_cgroup_v1(std::map<std::string, std::filesystem::path> dirs);
// `dir` below `base` on a cgroup2 mount: controllers available in `base` are
// enabled in the subtree_control of `base` and of each directory between.
std::unique_ptr<Cgroup> make_cgroup_v2(std::filesystem::path base, std::filesystem::path dir);
// Container `id`'s cgroup, nrun/<id> beside or below nrun's own cgroup.
std::unique_ptr<Cgroup> make_container_cgroup(const CgroupLayout& layout, const std::string& id);
// From a ContainerState::cgroup record; nullptr for null.
std::unique_ptr<Cgroup> cgroup_from_json(const nlohmann::json& j);

// How long freeze() waits for a cgroup's processes to stop.
inline constexpr std::chrono::milliseconds kFreezeTimeout{5000};

// Keeps a cgroup frozen for as long as it lives and thaws it when it goes,
// on every path (nrun commit's pause). While it lives SIGINT, SIGTERM,
// SIGHUP and SIGQUIT are held back: they would end nrun without unwinding
// and leave the container frozen, so they arrive once it is thawed.
class ScopedFreeze {
 public:
  explicit ScopedFreeze(Cgroup& cg, std::chrono::milliseconds timeout = kFreezeTimeout);
  ~ScopedFreeze();
  ScopedFreeze(const ScopedFreeze&) = delete;
  ScopedFreeze& operator=(const ScopedFreeze&) = delete;

 private:
  Cgroup& cg_;
  sigset_t old_mask_;
};

// ------------------------------------------- the module's hooks (cgroup.cpp)

// See host_resources.hpp: runs before init is cloned; makes the cgroup with
// its limits and says how init enters it: born inside (v2), or joining by
// itself first thing (v1), before it makes its cgroup namespace (so the
// container sees its cgroup as "/"). Empty when the container has no cgroup.
CgroupEntry cgroups_prepare(const ContainerRecord& rec, ContainerState& state);
void cgroups_teardown(const ContainerRecord& rec, ContainerState& state) noexcept;
void cgroups_collect_exit_facts(ContainerState& state) noexcept;
// How a process of `nrun exec` enters the container's cgroup(s); empty when
// the container has none.
CgroupEntry container_cgroup_entry(const ContainerState& state);

}  // namespace nrun::runtime
