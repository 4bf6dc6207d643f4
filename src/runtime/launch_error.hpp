// The command could not be started inside the container: Docker's 126
// (cannot execute) or 127 (not found).
#pragma once
#include "runtime/sys/error.hpp"

namespace nrun::runtime {

class LaunchError : public sys::Error {
 public:
  LaunchError(int exit_code, const std::string& what) : sys::Error(what), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace nrun::runtime
