// File operations the cgroup drivers share: cgroup files are read whole and
// written with one write(2) each; directories are made idempotently and
// removed only once empty of processes.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nrun::runtime::cgroupfs {

// The contents without the trailing newline; nullopt when the file is missing.
std::optional<std::string> try_read(const std::filesystem::path& p);
// One write(2) of `value`; the SysError names the value and the file.
void write(const std::filesystem::path& p, std::string_view value);
// The value of `key` in a "key value" file (memory.stat, cpu.stat,
// memory.events, memory.oom_control); nullopt when missing.
std::optional<uint64_t> read_key(const std::filesystem::path& p, std::string_view key);
// A file holding one number; nullopt when missing or "max".
std::optional<uint64_t> read_u64(const std::filesystem::path& p);
// Whitespace-separated words (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> words(std::string_view s);

// mkdir 0755; an existing directory is fine. Throws SysError (ENOENT when
// the parent is gone, which callers retry).
void ensure_dir(const std::filesystem::path& p);

// SIGKILLs every process in `dir` (cgroup.kill where the kernel has it),
// removes child cgroups and then `dir`, retrying while the kernel says EBUSY
// (processes not yet gone) until `timeout`. A missing `dir` is success.
void remove_dir(const std::filesystem::path& dir, std::chrono::milliseconds timeout);
// Removes `dir` (nrun's parent cgroup) if nothing else uses it; a
// concurrent container keeping it busy is fine.
void remove_if_unused(const std::filesystem::path& dir) noexcept;

}  // namespace nrun::runtime::cgroupfs
