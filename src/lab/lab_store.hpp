// Deployed labs on disk: ROOT/labs/<name>.json says what a lab is (its
// topology as deployed, its nodes' interfaces) and what its deploy created
// (networks, containers, namespace names), each object recorded before it
// is made, so destroy removes exactly that, even after a deploy that failed
// or was killed midway. Changes happen under ROOT/labs/.lock, held only for
// the read-modify-write: a deploy's monitors are forked children that never
// exec, and a lock fd they inherited would outlive the deploy.
//
// What a deploy creates is appended, one line per object, to
// ROOT/labs/<name>.created rather than rewritten into the record: a record
// holds the whole topology, so rewriting it per object made a deploy
// quadratic in its nodes. Reads merge the two; update folds the lines into
// the record and empties the file.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lab/plan.hpp"
#include "net/netem.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/lock.hpp"

namespace nrun::lab {

struct InterfaceRecord {
  std::string name, network, peer, address, mac;
  bool operator==(const InterfaceRecord&) const = default;
};

struct NodeRecord {
  std::string name, container;
  std::vector<InterfaceRecord> interfaces;
  bool operator==(const NodeRecord&) const = default;
};

struct NetworkRecord {
  std::string name, network, subnet;  // lab name, nrun network (= bridge), subnet
  bool operator==(const NetworkRecord&) const = default;
};

// corrupt: the record cannot be read (a torn or emptied file); only its
// name and the lines of its .created file are known.
enum class LabStatus { deploying, deployed, failed, corrupt };
enum class CreatedKind { network, container, netns };
std::string to_string(LabStatus s);

struct LabRecord {
  std::string name;
  std::string file;     // the topology file it was deployed from (absolute)
  std::string created;  // RFC 3339
  LabStatus status = LabStatus::deploying;
  std::string error;       // why the deploy or the last destroy failed
  pid_t deployer_pid = 0;  // while deploying: who is
  uint64_t deployer_start_time = 0;
  std::string topology;  // the file's text as deployed (graph reads it back)
  std::vector<NetworkRecord> lab_networks;
  std::vector<NodeRecord> nodes;
  std::vector<std::string> links;               // "r1:eth5 -- r2:eth5"
  std::map<std::string, net::NetemSpec> netem;  // "node:ifname" -> what is set now

  // Created, in order; each entry written before the object is made.
  std::vector<std::string> networks;    // nrun networks
  std::vector<std::string> containers;  // container names
  std::vector<std::string> netns;       // names under /run/netns
};

// A lab record that cannot be parsed. destroy still works (see salvage).
struct CorruptLab : sys::Error {
  using sys::Error::Error;
};

void to_json(nlohmann::json& j, const InterfaceRecord& i);
void from_json(const nlohmann::json& j, InterfaceRecord& i);
void to_json(nlohmann::json& j, const NodeRecord& n);
void from_json(const nlohmann::json& j, NodeRecord& n);
void to_json(nlohmann::json& j, const NetworkRecord& n);
void from_json(const nlohmann::json& j, NetworkRecord& n);
void to_json(nlohmann::json& j, const LabRecord& r);
void from_json(const nlohmann::json& j, LabRecord& r);

// The record a deploy starts from: the plan's description, nothing created.
LabRecord describe_plan(const LabPlan& plan);

class LabStore {
 public:
  explicit LabStore(std::filesystem::path root);  // nrun's root; labs live in root/labs

  // CorruptLab when the record exists but cannot be parsed.
  std::optional<LabRecord> try_get(const std::string& name) const;
  LabRecord get(const std::string& name) const;  // UsageError for an unknown lab
  // Sorted by name. A corrupt record is listed, with a warning, as what
  // salvage returns: one bad file never hides the others.
  std::vector<LabRecord> list() const;

  // What is left of a corrupt record: its name, status corrupt, the parse
  // error, and the objects its .created lines name (a torn line is
  // skipped). Destroy adds what the lab's marks lead to.
  LabRecord salvage(const std::string& name, const std::string& why) const;
  // Writes `r` whole in place of whatever is there (a corrupt record),
  // under the lock; the .created lines are folded into it first.
  void replace(LabRecord r);

  // Writes a new record; UsageError when the lab exists.
  void create(const LabRecord& r);
  // Read-modify-write under the lock.
  LabRecord update(const std::string& name, const std::function<void(LabRecord&)>& fn);
  // Records, before it is made, that the lab creates `object`: one line
  // appended under the lock, whatever the size of the record.
  void add_created(const std::string& name, CreatedKind kind, const std::string& object);
  void remove(const std::string& name);  // no error when gone

 private:
  sys::FileLock lock() const;
  std::filesystem::path path_of(const std::string& name) const;
  std::filesystem::path created_path_of(const std::string& name) const;
  void write(const LabRecord& r) const;
  std::filesystem::path dir_;
};

}  // namespace nrun::lab
