#include "runtime/sys/proc.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <string_view>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::sys {

std::optional<uint64_t> try_process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::string stat;
  try {
    stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const SysError& e) {
    if (e.err() == ENOENT || e.err() == ESRCH) return std::nullopt;
    throw;
  }
  // comm (field 2) may hold spaces and parentheses: parse after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::string_view rest(stat);
  rest.remove_prefix(close + 2);  // now at field 3
  for (int field = 3; field < 22; ++field) {
    const auto sp = rest.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(sp + 1);
  }
  return std::stoull(std::string(rest.substr(0, rest.find(' '))));
}

bool process_matches(pid_t pid, uint64_t start_time) {
  const auto st = try_process_start_time(pid);
  return st && *st == start_time;
}

std::string boot_id() {
  // Read once: it cannot change while this process lives, and every
  // liveness check of a record asks for it.
  static const std::string id = [] {
    std::string s = read_file("/proc/sys/kernel/random/boot_id");
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }();
  return id;
}

int thread_count() {
  // procfs gives /proc/PID/task a link count of 2 + its threads
  // (proc_task_getattr): one stat, where formatting /proc/self/status costs
  // ~50 us, and `run` and `exec` ask several times.
  struct stat st;
  check(::stat("/proc/self/task", &st), "stat /proc/self/task");
  if (st.st_nlink < 3) throw Error("/proc/self/task has link count " + std::to_string(st.st_nlink));
  return static_cast<int>(st.st_nlink - 2);
}

void assert_single_threaded(const char* what) {
  const int n = thread_count();
  if (n != 1)
    throw Error(std::string(what) + ": needs a single-threaded process, found " + std::to_string(n) + " threads");
}

}  // namespace nrun::sys
