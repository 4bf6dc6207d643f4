// Undo-on-failure guard (folly makeGuard): runs unless dismissed.
#pragma once
#include <exception>
#include <utility>

namespace nrun::sys {

template <class F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F f) noexcept : f_(std::move(f)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (active_) {
      try {
        f_();
      } catch (...) {
        // An undo that fails must not mask the error that triggered it.
      }
    }
  }
  void dismiss() noexcept { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace nrun::sys
