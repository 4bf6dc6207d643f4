#include "runtime/cgroup_entry.hpp"

#include <fcntl.h>

#include "runtime/sys/error.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::runtime {

void join_cgroup_self(const CgroupEntry& entry) {
  if (entry.self_join.empty()) return;
  // v1's `tasks` moves one thread: a second thread would stay behind.
  sys::assert_single_threaded("join cgroup");
  for (const auto& file : entry.self_join) {
    try {
      sys::write_file(file, "0");
    } catch (const sys::SysError& e) {
      throw sys::SysError(e.err(), "join cgroup '" + file + "'");
    }
  }
}

sys::Fd open_clone_into(const CgroupEntry& entry) {
  if (entry.clone_into.empty()) return {};
  return sys::open_path(entry.clone_into, O_PATH | O_DIRECTORY);
}

}  // namespace nrun::runtime
