// Facts about processes read from /proc.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nrun::sys {

// Field 22 of /proc/PID/stat (start time in clock ticks since boot), or
// nullopt when the process does not exist.
std::optional<uint64_t> try_process_start_time(pid_t pid);

// True when pid exists and its start time is `start_time` — a pid that was
// reused by another process is never trusted.
bool process_matches(pid_t pid, uint64_t start_time);

// /proc/sys/kernel/random/boot_id, trimmed.
std::string boot_id();

// Throws when the process has more than one thread: namespace switches
// (setns/unshare) are per thread and need a single-threaded process.
void assert_single_threaded(const char* what);
int thread_count();

}  // namespace nrun::sys
