// Timestamps and random ids for records on disk.
#pragma once
#include <cstddef>
#include <string>

namespace nrun::sys {

// The current time as RFC 3339 UTC with nanoseconds (Docker's format).
std::string now_rfc3339();
// `bytes` random bytes from /dev/urandom as lowercase hex.
std::string random_hex(size_t bytes);

}  // namespace nrun::sys
