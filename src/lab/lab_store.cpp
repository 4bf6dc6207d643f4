#include "lab/lab_store.hpp"

#include <fcntl.h>

#include <algorithm>

#include "lab/topology.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/lock.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::lab {
namespace fs = std::filesystem;
using nlohmann::json;

std::string to_string(LabStatus s) {
  switch (s) {
    case LabStatus::deploying:
      return "deploying";
    case LabStatus::deployed:
      return "deployed";
    case LabStatus::failed:
      return "failed";
    case LabStatus::corrupt:
      return "corrupt";
  }
  return "?";
}

namespace {
LabStatus status_from(const std::string& s) {
  if (s == "deployed") return LabStatus::deployed;
  if (s == "failed") return LabStatus::failed;
  if (s == "corrupt") return LabStatus::corrupt;
  return LabStatus::deploying;
}
}  // namespace

void to_json(json& j, const InterfaceRecord& i) {
  j = {{"name", i.name}, {"network", i.network}, {"peer", i.peer}, {"address", i.address}, {"mac", i.mac}};
}
void from_json(const json& j, InterfaceRecord& i) {
  i.name = j.value("name", "");
  i.network = j.value("network", "");
  i.peer = j.value("peer", "");
  i.address = j.value("address", "");
  i.mac = j.value("mac", "");
}
void to_json(json& j, const NodeRecord& n) {
  j = {{"name", n.name}, {"container", n.container}, {"interfaces", n.interfaces}};
}
void from_json(const json& j, NodeRecord& n) {
  n.name = j.value("name", "");
  n.container = j.value("container", "");
  n.interfaces = j.value("interfaces", std::vector<InterfaceRecord>{});
}
void to_json(json& j, const NetworkRecord& n) { j = {{"name", n.name}, {"network", n.network}, {"subnet", n.subnet}}; }
void from_json(const json& j, NetworkRecord& n) {
  n.name = j.value("name", "");
  n.network = j.value("network", "");
  n.subnet = j.value("subnet", "");
}

void to_json(json& j, const LabRecord& r) {
  json netem = json::object();
  for (const auto& [where, spec] : r.netem) netem[where] = spec;
  j = {{"name", r.name},
       {"file", r.file},
       {"created", r.created},
       {"status", to_string(r.status)},
       {"error", r.error},
       {"deployer_pid", r.deployer_pid},
       {"deployer_start_time", r.deployer_start_time},
       {"topology", r.topology},
       {"lab_networks", r.lab_networks},
       {"nodes", r.nodes},
       {"links", r.links},
       {"netem", netem},
       {"created_objects", {{"networks", r.networks}, {"containers", r.containers}, {"netns", r.netns}}}};
}

void from_json(const json& j, LabRecord& r) {
  j.at("name").get_to(r.name);
  r.file = j.value("file", "");
  r.created = j.value("created", "");
  r.status = status_from(j.value("status", "deploying"));
  r.error = j.value("error", "");
  r.deployer_pid = j.value("deployer_pid", 0);
  r.deployer_start_time = j.value("deployer_start_time", uint64_t{0});
  r.topology = j.value("topology", "");
  r.lab_networks = j.value("lab_networks", std::vector<NetworkRecord>{});
  r.nodes = j.value("nodes", std::vector<NodeRecord>{});
  r.links = j.value("links", std::vector<std::string>{});
  r.netem.clear();
  if (j.contains("netem"))
    for (const auto& [where, spec] : j.at("netem").items()) r.netem[where] = spec.get<net::NetemSpec>();
  const json created = j.value("created_objects", json::object());
  r.networks = created.value("networks", std::vector<std::string>{});
  r.containers = created.value("containers", std::vector<std::string>{});
  r.netns = created.value("netns", std::vector<std::string>{});
}

LabRecord describe_plan(const LabPlan& plan) {
  LabRecord r;
  r.name = plan.lab;
  for (const auto& n : plan.networks)
    r.lab_networks.push_back({n.lab_name, n.request.name, n.request.subnet ? n.request.subnet->str() : ""});
  for (const auto& n : plan.nodes) {
    NodeRecord nr{n.name, n.container, {}};
    for (const auto& i : n.interfaces)
      nr.interfaces.push_back({i.ifname, i.network, i.peer, i.address ? i.address->str() : "", i.mac.str()});
    r.nodes.push_back(std::move(nr));
  }
  for (const auto& l : plan.links) {
    r.links.push_back(l.str());
    if (!l.netem.empty()) {
      r.netem[l.a.node + ":" + l.a.ifname] = l.netem;
      r.netem[l.b.node + ":" + l.b.ifname] = l.netem;
    }
  }
  return r;
}

LabStore::LabStore(fs::path root) : dir_(std::move(root) / "labs") {}

sys::FileLock LabStore::lock() const {
  fs::create_directories(dir_);
  return sys::FileLock((dir_ / ".lock").string(), sys::FileLock::Mode::exclusive);
}

fs::path LabStore::path_of(const std::string& name) const { return dir_ / (name + ".json"); }
fs::path LabStore::created_path_of(const std::string& name) const { return dir_ / (name + ".created"); }

namespace {
const char* kind_word(CreatedKind k) {
  switch (k) {
    case CreatedKind::network: return "network";
    case CreatedKind::container: return "container";
    case CreatedKind::netns: return "netns";
  }
  return "?";
}

void append_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

// The lines of a .created file into the record. A line already there (the
// record was written, the file not yet emptied) is not added twice; a torn
// last line (a crash mid-append) names no object that was made.
void merge_created(LabRecord& r, const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    const std::string kind = line.substr(0, sp), object = line.substr(sp + 1);
    if (kind == "network") append_unique(r.networks, object);
    else if (kind == "container") append_unique(r.containers, object);
    else if (kind == "netns") append_unique(r.netns, object);
  }
}
}  // namespace

std::optional<LabRecord> LabStore::try_get(const std::string& name) const {
  if (!is_valid_lab_name(name)) return std::nullopt;
  // The lines first, without the lock: update writes the record before it
  // empties the lines, so a record read after them holds every line that
  // is gone by then (and lines read twice are merged once).
  const auto created = sys::try_read_file(created_path_of(name).string());
  const auto text = sys::try_read_file(path_of(name).string());
  if (!text) return std::nullopt;
  LabRecord r;
  try {
    r = json::parse(*text).get<LabRecord>();
    // A record naming another lab is not this one's, whatever it holds.
    if (r.name != name) throw sys::Error("the record names lab '" + r.name + "'");
  } catch (const std::exception& e) {
    throw CorruptLab("corrupt lab file '" + path_of(name).string() + "': " + e.what());
  }
  if (created) merge_created(r, *created);
  return r;
}

LabRecord LabStore::get(const std::string& name) const {
  if (auto r = try_get(name)) return *r;
  throw sys::UsageError("no such lab: '" + name + "'");
}

std::vector<LabRecord> LabStore::list() const {
  std::vector<LabRecord> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() <= 5 || f[0] == '.' || f.compare(f.size() - 5, 5, ".json") != 0) continue;
    const std::string name = f.substr(0, f.size() - 5);
    try {
      if (auto r = try_get(name)) out.push_back(std::move(*r));
    } catch (const CorruptLab& e) {
      log::warn(std::string(e.what()) + ": listed as corrupt; 'nrun lab destroy " + name + "' removes what the lab made");
      out.push_back(salvage(name, e.what()));
    }
  }
  std::sort(out.begin(), out.end(), [](const LabRecord& a, const LabRecord& b) { return a.name < b.name; });
  return out;
}

LabRecord LabStore::salvage(const std::string& name, const std::string& why) const {
  LabRecord r;
  r.name = name;
  r.status = LabStatus::corrupt;
  r.error = why;
  if (const auto created = sys::try_read_file(created_path_of(name).string())) merge_created(r, *created);
  return r;
}

void LabStore::write(const LabRecord& r) const {
  // Atomic but not fsync'd, as the network store: the record describes
  // running containers, which a crash of the host takes with it, and a
  // deploy rewrites it once per object it makes.
  sys::write_file_atomic(path_of(r.name).string(), json(r).dump(2) + "\n", 0644, sys::Durability::none);
}

namespace {
void remove_if_exists(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw sys::SysError(ec.value(), "remove lab file '" + p.string() + "'");
}
}  // namespace

void LabStore::replace(LabRecord r) {
  auto l = lock();
  if (const auto created = sys::try_read_file(created_path_of(r.name).string())) merge_created(r, *created);
  write(r);
  remove_if_exists(created_path_of(r.name));
}

void LabStore::create(const LabRecord& r) {
  auto l = lock();
  if (fs::exists(path_of(r.name)))
    throw sys::UsageError("lab '" + r.name + "' is already deployed (destroy it first, or deploy with --reconfigure)");
  remove_if_exists(created_path_of(r.name));  // left by a remove cut short: not this lab's
  write(r);
}

LabRecord LabStore::update(const std::string& name, const std::function<void(LabRecord&)>& fn) {
  auto l = lock();
  LabRecord r = get(name);
  fn(r);
  write(r);
  // The record now holds every line: empty the file (a crash before this
  // only leaves lines that are merged once).
  remove_if_exists(created_path_of(name));
  return r;
}

void LabStore::add_created(const std::string& name, CreatedKind kind, const std::string& object) {
  if (object.empty() || object.find_first_of(" \n") != std::string::npos)
    throw sys::Error("lab '" + name + "': cannot record the object name '" + object + "'");
  auto l = lock();
  if (!fs::exists(path_of(name))) throw sys::UsageError("no such lab: '" + name + "'");
  // Not fsync'd, as the record (see write): one short O_APPEND write.
  const sys::Fd fd = sys::open_path(created_path_of(name).string(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  sys::write_all(fd.get(), std::string(kind_word(kind)) + " " + object + "\n");
}

void LabStore::remove(const std::string& name) {
  auto l = lock();
  // The record first: a .created file without one is ignored, and removed
  // by the next create of the name.
  remove_if_exists(path_of(name));
  remove_if_exists(created_path_of(name));
}

}  // namespace nrun::lab
