// The container's log: one JSON object per line, Docker's json-file shape:
// {"log":"text\n","stream":"stdout","time":"2026-11-24T08:00:00.000000000Z"}
#pragma once
#include <optional>
#include <string>

#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

// Splits a stream into lines and appends each as one JSON record.
class LogWriter {
 public:
  explicit LogWriter(const std::string& path);
  // Feeds bytes read from the container's stdout or stderr.
  void feed(const std::string& stream, std::string_view bytes);
  // Writes out partial lines (at EOF).
  void flush();

 private:
  void write_record(const std::string& stream, std::string_view line);
  sys::Fd fd_;
  std::string pending_out_, pending_err_;
};

struct LogRecord {
  std::string stream;  // stdout | stderr
  std::string time;    // RFC 3339
  std::string text;    // includes its trailing newline when it had one
};

// Parses one line of the log; nullopt for a damaged line.
std::optional<LogRecord> parse_log_line(const std::string& line);

}  // namespace nrun::runtime
