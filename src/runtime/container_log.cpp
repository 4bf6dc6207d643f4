#include "runtime/container_log.hpp"

#include <nlohmann/json.hpp>

#include "runtime/state.hpp"

namespace nrun::runtime {

namespace {
constexpr size_t kMaxLine = 16 * 1024;  // longer lines are split, as Docker does
}

LogWriter::LogWriter(const std::string& path) : fd_(sys::open_path(path, O_WRONLY | O_CREAT | O_APPEND, 0640)) {}

void LogWriter::write_record(const std::string& stream, std::string_view line) {
  nlohmann::json j = {{"log", std::string(line)}, {"stream", stream}, {"time", now_rfc3339()}};
  // Invalid UTF-8 from a container must not stop its log.
  sys::write_all(fd_.get(), j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void LogWriter::feed(const std::string& stream, std::string_view bytes) {
  std::string& pending = stream == "stderr" ? pending_err_ : pending_out_;
  pending.append(bytes);
  size_t start = 0;
  for (;;) {
    const size_t nl = pending.find('\n', start);
    if (nl == std::string::npos) break;
    write_record(stream, std::string_view(pending).substr(start, nl + 1 - start));
    start = nl + 1;
  }
  pending.erase(0, start);
  while (pending.size() >= kMaxLine) {
    write_record(stream, std::string_view(pending).substr(0, kMaxLine));
    pending.erase(0, kMaxLine);
  }
}

void LogWriter::flush() {
  if (!pending_out_.empty()) write_record("stdout", pending_out_);
  if (!pending_err_.empty()) write_record("stderr", pending_err_);
  pending_out_.clear();
  pending_err_.clear();
}

std::optional<LogRecord> parse_log_line(const std::string& line) {
  try {
    const auto j = nlohmann::json::parse(line);
    return LogRecord{j.value("stream", "stdout"), j.value("time", ""), j.value("log", "")};
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace nrun::runtime
