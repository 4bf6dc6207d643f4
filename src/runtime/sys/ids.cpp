#include "runtime/sys/ids.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <vector>

#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::sys {

std::string now_rfc3339() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  Fd fd = open_path("/dev/urandom", O_RDONLY);
  if (::read(fd.get(), raw.data(), raw.size()) != static_cast<ssize_t>(raw.size()))
    throw Error("read /dev/urandom: short read");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : raw) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace nrun::sys
