// A deleter for C libraries' free functions, so their objects can live in
// std::unique_ptr: std::unique_ptr<nl_sock, CFree<nl_socket_free>>.
#pragma once

namespace nrun::sys {

template <auto Fn>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

}  // namespace nrun::sys
