// A small leveled logger to stderr. Runtime and net code log at debug/info
// and throw on errors; cli/main.cpp prints the error once.
#pragma once
#include <string>
#include <string_view>

namespace nrun::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level l);
Level level();
Level parse_level(std::string_view s);  // throws sys::UsageError
bool enabled(Level l);
void write(Level l, std::string_view msg);

inline void error(std::string_view m) { write(Level::error, m); }
inline void warn(std::string_view m) { write(Level::warn, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void debug(std::string_view m) { if (enabled(Level::debug)) write(Level::debug, m); }

}  // namespace nrun::log
