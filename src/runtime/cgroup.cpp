// The cgroup module's part of the launch sequence: pick the driver, make the
// container's cgroup while init is held, find it again from the record.
#include "runtime/cgroup.hpp"

#include <algorithm>

#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/scope_guard.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;

namespace {
constexpr const char* kParent = "nrun";

bool is_permission_error(const std::exception& e) {
  const auto* se = dynamic_cast<const sys::SysError*>(&e);
  return se && (se->err() == EACCES || se->err() == EPERM || se->err() == EROFS);
}
}  // namespace

std::unique_ptr<Cgroup> make_container_cgroup(const CgroupLayout& layout, const std::string& id) {
  switch (layout.version) {
    case CgroupVersion::v1: {
      std::map<std::string, fs::path> dirs;
      for (const auto& [controller, own] : layout.v1) dirs[controller] = own / kParent / id;
      return make_cgroup_v1(std::move(dirs));
    }
    case CgroupVersion::v2: {
      // nrun's own cgroup holds nrun, so it may not enable controllers for
      // children (no internal processes); its parent already does. The
      // root cgroup is exempt from that rule.
      const fs::path base = layout.v2_own == layout.v2_mount ? layout.v2_own : layout.v2_own.parent_path();
      return make_cgroup_v2(base, base / kParent / id);
    }
    case CgroupVersion::none:
      break;
  }
  return nullptr;
}

std::unique_ptr<Cgroup> cgroup_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return nullptr;
  const std::string driver = j.value("driver", "");
  if (driver == "v1") {
    std::map<std::string, fs::path> dirs;
    for (const auto& [controller, path] : j.at("paths").items()) dirs[controller] = path.get<std::string>();
    return make_cgroup_v1(std::move(dirs));
  }
  if (driver == "v2") return make_cgroup_v2(j.at("base").get<std::string>(), j.at("path").get<std::string>());
  throw sys::Error("unknown cgroup driver '" + driver + "' in the container's state");
}

CgroupEntry cgroups_prepare(const ContainerRecord& rec, ContainerState& state) {
  const Resources& limits = rec.config.resources;
  const CgroupLayout layout = host_cgroup_layout();
  auto cg = make_container_cgroup(layout, rec.id);
  if (!cg) {
    if (limits.any()) throw sys::Error("cannot apply resource limits: no cgroup hierarchy is mounted on this host");
    log::debug("no cgroup hierarchy mounted; container " + rec.short_id() + " gets no cgroup");
    return {};
  }
  try {
    cg->create(limits);
  } catch (const std::exception& e) {
    // Without limits a cgroup is for stats only: a host where nrun may not
    // make one (read-only cgroupfs, no delegation) still runs containers.
    if (limits.any() || !is_permission_error(e)) throw;
    log::debug("no cgroup for container " + rec.short_id() + ": " + sys::describe(e) + ", ignoring");
    return {};
  }
  state.cgroup = cg->to_json();
  return cg->entry();
}

void cgroups_teardown(const ContainerRecord& rec, ContainerState& state) noexcept {
  try {
    if (state.cgroup.is_null()) {
      // A monitor killed between making the cgroup and recording it: the
      // cgroup is still found by the container's id.
      auto cg = make_container_cgroup(host_cgroup_layout(), rec.id);
      if (!cg) return;
      const auto dirs = cg->entry().dirs;
      if (std::none_of(dirs.begin(), dirs.end(), [](const std::string& d) { return fs::exists(d); })) return;
      cg->remove();
      return;
    }
    cgroup_from_json(state.cgroup)->remove();
    state.cgroup = nullptr;
  } catch (const std::exception& e) {
    // Kept in the record, so `nrun rm` tries again.
    log::warn("remove the container's cgroup: " + sys::describe(e) + ", ignoring");
  }
}

void cgroups_collect_exit_facts(ContainerState& state) noexcept {
  if (state.cgroup.is_null()) return;
  try {
    if (cgroup_from_json(state.cgroup)->oom_killed()) state.oom_killed = true;
  } catch (const std::exception& e) {
    log::warn("read the container's OOM events: " + sys::describe(e) + ", ignoring");
  }
}

ScopedFreeze::ScopedFreeze(Cgroup& cg, std::chrono::milliseconds timeout) : cg_(cg) {
  sigset_t held;
  sigemptyset(&held);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&held, sig);
  sys::check(::sigprocmask(SIG_BLOCK, &held, &old_mask_), "block signals");
  try {
    cg_.freeze(timeout);
  } catch (...) {
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    throw;
  }
}

ScopedFreeze::~ScopedFreeze() {
  try {
    cg_.thaw();
  } catch (const std::exception& e) {
    log::warn("thaw the container's cgroup: " + sys::describe(e) + ", ignoring");
  }
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

CgroupEntry container_cgroup_entry(const ContainerState& state) {
  auto cg = cgroup_from_json(state.cgroup);
  return cg ? cg->entry() : CgroupEntry{};
}

}  // namespace nrun::runtime
