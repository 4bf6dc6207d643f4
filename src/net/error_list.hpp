// Teardown runs every step and collects what failed (netavark's
// NetavarkErrorList): one failure never stops the undo of the rest.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "runtime/sys/error.hpp"

namespace nrun::net {

class ErrorList {
 public:
  template <class F>
  void capture(const std::string& what, F&& step) noexcept {
    try {
      std::forward<F>(step)();
    } catch (const std::exception& e) {
      add(what + ": " + sys::describe(e));
    } catch (...) {
      add(what + ": unknown error");
    }
  }
  void add(std::string msg) noexcept {
    try {
      errors_.push_back(std::move(msg));
    } catch (...) {
    }
  }
  bool empty() const noexcept { return errors_.empty(); }
  const std::vector<std::string>& errors() const noexcept { return errors_; }
  std::string str() const {
    std::string s;
    for (const auto& e : errors_) s += (s.empty() ? "" : "; ") + e;
    return s;
  }

 private:
  std::vector<std::string> errors_;
};

}  // namespace nrun::net
