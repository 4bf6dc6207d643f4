// Who a process runs as inside the container: USER[:GROUP], names looked up
// in the container's own /etc/passwd and /etc/group, plus --group-add.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nrun::runtime {

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  std::string home = "/";
};

// The largest uid or gid a user may name: 2^32-1 is (uid_t)-1, which
// setuid and chown read as "no change".
constexpr uint32_t kMaxId = 4294967294U;

// Pure: an id given as digits, range-checked (UsageError past kMaxId, never
// a silent wrap to 0); nullopt when `s` is not all digits (a name).
// `what` names it in the error: "uid", "gid".
std::optional<uint32_t> parse_numeric_id(const std::string& s, const char* what);

// Pure, before anything is made: the numbers in USER[:GROUP] and in
// --group-add are in range. Names are checked later, in the image.
void validate_user_spec(const std::string& spec, const std::vector<std::string>& group_add = {});

// Pure: `spec` is "name", "uid", "name:group", "uid:gid"; passwd and group
// are the files' contents. Digits are always an id, matched against the
// files' id fields and never against a name. A numeric uid with no passwd
// entry is allowed (its gid is then 0, as Docker does); an unknown name is
// a UsageError, and so is an id out of range.
UserIds resolve_user(const std::string& spec, const std::string& passwd, const std::string& group);

// Pure: --group-add entries, names looked up in `group`, numbers taken as
// they are; appended to ids.groups without duplicates. Throws UsageError
// for an unknown name.
void add_groups(UserIds& ids, const std::vector<std::string>& group_add, const std::string& group);

// Reads /etc/passwd and /etc/group of the current root (inside the
// container's mount namespace, so the image's files). They are the
// image's: only regular files of sane size are read (a FIFO or a link to
// /dev/zero counts as missing); missing files count as empty. An empty
// `spec` means root (0:0 and root's groups in /etc/group).
UserIds resolve_user_in_current_root(const std::string& spec, const std::vector<std::string>& group_add = {});

}  // namespace nrun::runtime
