#include "runtime/capabilities.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/sys/error.hpp"

namespace nrun::runtime {

uint64_t default_capabilities() {
  constexpr int kCaps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,           CAP_FSETID,
                           CAP_KILL,   CAP_SETGID,       CAP_SETUID,           CAP_SETPCAP,
                           CAP_NET_BIND_SERVICE,         CAP_NET_RAW,          CAP_SYS_CHROOT,
                           CAP_MKNOD,  CAP_AUDIT_WRITE,  CAP_SETFCAP};
  uint64_t mask = 0;
  for (int c : kCaps) mask |= uint64_t{1} << c;
  return mask;
}

void drop_bounding_set(uint64_t keep) {
  for (int cap = 0; cap <= 63; ++cap) {
    if (keep & (uint64_t{1} << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      const int e = errno;
      throw sys::SysError(e, "drop capability " + std::to_string(cap));
    }
  }
  sys::check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities");
}

void set_process_capabilities(uint64_t caps) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    const auto word = static_cast<uint32_t>(caps >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  sys::check(::syscall(SYS_capset, &hdr, data), "capset");
}

}  // namespace nrun::runtime
