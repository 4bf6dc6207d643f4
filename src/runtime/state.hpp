// The container store: ROOT/containers/<id>/{config.json,state.json,...}.
// Every file is written atomically (temp, fsync, rename; the running state
// without the fsync, see update()) and read under flock:
// ROOT/containers/.lock guards ids and names, the <id> directory itself one
// record. Names are found through ROOT/containers/.names (name_index.hpp),
// so creating or resolving a container costs the same with 1 or 1,000 others.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/name_index.hpp"
#include "runtime/spec.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/ids.hpp"
#include "runtime/sys/lock.hpp"

namespace nrun::runtime {

enum class Status { created, running, exited };
std::string to_string(Status s);

struct ContainerState {
  Status status = Status::created;
  pid_t pid = 0;                // container init, in the host's pid namespace
  uint64_t start_time = 0;      // of pid, /proc/PID/stat field 22
  pid_t monitor_pid = 0;
  uint64_t monitor_start_time = 0;
  int exit_code = 0;
  bool oom_killed = false;
  std::string created_at, started_at, finished_at;  // RFC 3339 UTC
  std::string boot_id;          // of the boot that started pid
  std::string error;            // why the last start failed, if it did
  // What the modules made on the host for this run (see host_resources.hpp);
  // null when nothing is held.
  nlohmann::json cgroup;
  nlohmann::json network;
};

struct ContainerRecord {
  std::string id;  // 64 hex
  ContainerSpec config;
  ContainerState state;
  std::string short_id() const { return id.substr(0, 12); }
};

void to_json(nlohmann::json& j, const ContainerState& s);
void from_json(const nlohmann::json& j, ContainerState& s);

using sys::now_rfc3339;
std::string generate_id();                  // 64 random hex digits
std::string generate_name(uint64_t seed);   // adjective_noun, as Docker

// A record whose files do not parse: torn by a crash of the machine while
// a record written without fsync (run --rm) was new, or damaged by hand.
// list() skips it with a warning; corrupt_records() finds it for removal.
struct CorruptRecord : sys::Error {
  using sys::Error::Error;
};

class StateStore {
 public:
  explicit StateStore(std::filesystem::path root);  // nrun's root

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path dir(const std::string& id) const;

  // Reserves a new id and the spec's name (generated when empty) under the
  // store lock and writes config.json and state.json. Throws UsageError when
  // the name is taken.
  // A --rm container's files are not fsync'd: the record lives only as
  // long as the container, and after a crash of the machine the first
  // command of the next boot removes it whole or torn (see corrupt_records).
  ContainerRecord create(ContainerSpec spec);

  // Full id, name or unique id prefix to the id. Throws UsageError for none
  // or an ambiguous prefix.
  std::string resolve(const std::string& ref) const;
  // The id of the container named `name` (names only, never an id prefix).
  std::optional<std::string> try_find_by_name(const std::string& name) const;

  // Reads the record under the record's lock. A "running" record whose pid
  // is gone or belongs to another process (start time, boot id) reads as
  // exited.
  ContainerRecord load(const std::string& id) const;
  std::optional<ContainerRecord> try_load(const std::string& id) const;
  // The config alone, for a record whose state.json is corrupt; nullopt
  // when it is missing or corrupt too.
  std::optional<ContainerSpec> try_load_config(const std::string& id) const;
  std::vector<ContainerRecord> list() const;
  // The ids of records whose files do not parse (CorruptRecord).
  std::vector<std::string> corrupt_records() const;

  // Read-modify-write of state.json under the record's exclusive lock.
  // Durability::none for a state that describes live processes only (no
  // crash of the machine leaves them alive, so nothing is lost with it).
  ContainerState update(const std::string& id, const std::function<void(ContainerState&)>& fn,
                        sys::Durability durability = sys::Durability::fsync);

  // Read-modify-write of config.json under the record's exclusive lock (nrun
  // update); `fn` also sees the state as stored, unchecked.
  ContainerSpec update_config(const std::string& id,
                              const std::function<void(ContainerSpec&, const ContainerState&)>& fn);

  // Removes the record directory (upper layer and all) and frees its name.
  // The caller makes sure nothing runs.
  void remove(const std::string& id);

  // Removes what a killed nrun left in the store: a record it was writing
  // (.tmp-ID, only ever made under the store lock, which this takes) and
  // one it was deleting (.rm-ID). Returns how many went.
  size_t sweep_temps();

  // The record lock, for callers that must hold it across several steps.
  sys::FileLock lock(const std::string& id, sys::FileLock::Mode mode) const;

  // Whether the record's config.json is there: no read, no lock.
  bool record_exists(const std::string& id) const;

 private:
  std::filesystem::path containers_dir_;
  std::filesystem::path root_;
  NameIndex names_;
  ContainerRecord read_unlocked(const std::string& id) const;
  sys::FileLock store_lock() const;  // ids and names
  void ensure_name_index() const;
  static void remove_tree(const std::filesystem::path& dir);
};

// True when a record's pid is really that container's live process.
bool is_alive(const ContainerState& s);

}  // namespace nrun::runtime
