#include "runtime/sys/log.hpp"

#include <unistd.h>

#include "runtime/sys/error.hpp"

namespace nrun::log {
namespace {
Level g_level = Level::warn;
constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_level(Level l) { g_level = l; }
Level level() { return g_level; }
bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(g_level); }

Level parse_level(std::string_view s) {
  for (int i = 0; i < 4; ++i)
    if (s == kNames[i]) return static_cast<Level>(i);
  throw sys::UsageError("invalid log level '" + std::string(s) + "' (error, warn, info, debug)");
}

void write(Level l, std::string_view msg) {
  if (!enabled(l)) return;
  // One write(2) per line, so lines from concurrent processes never interleave.
  std::string line = "nrun: ";
  if (l != Level::error) line += std::string(kNames[static_cast<int>(l)]) + ": ";
  else line += "error: ";
  line.append(msg);
  line += '\n';
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace nrun::log
