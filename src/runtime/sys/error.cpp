#include "runtime/sys/error.hpp"

namespace nrun::sys {

std::string describe(const std::exception& e) {
  std::string out = e.what();
  try {
    std::rethrow_if_nested(e);
  } catch (const std::exception& inner) {
    out += ": " + describe(inner);
  } catch (...) {
    out += ": unknown error";
  }
  return out;
}

}  // namespace nrun::sys
