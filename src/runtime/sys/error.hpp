// Error model: the parent side throws; errno is captured at once.
#pragma once
#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace nrun::sys {

// A failure nrun reports to the user as its own (exit code 125).
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bad input from the user: flags, names, paths. Also exit code 125, but it is
// raised before anything is created.
struct UsageError : Error {
  using Error::Error;
};

struct SysError : std::system_error {
  SysError(int e, const std::string& what) : std::system_error(e, std::generic_category(), what) {}
  int err() const noexcept { return code().value(); }
};

// Throws SysError with the current errno when rc == -1 (folly checkUnixError).
inline long check(long rc, std::string_view what) {
  if (rc == -1) {
    const int e = errno;
    throw SysError(e, std::string(what));
  }
  return rc;
}

// Like check() but for calls that return a negative errno (clone3 shims etc.).
inline long check_neg(long rc, std::string_view what) {
  if (rc < 0) throw SysError(static_cast<int>(-rc), std::string(what));
  return rc;
}

// Flattens a nested exception chain into "outer: inner: innermost".
std::string describe(const std::exception& e);

}  // namespace nrun::sys
