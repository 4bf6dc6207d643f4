#include "runtime/state.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <random>

#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/fd.hpp"
#include "runtime/sys/ids.hpp"
#include "runtime/sys/proc.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kConfigFile = "config.json";
constexpr const char* kStateFile = "state.json";
constexpr const char* kStoreLockFile = ".lock";
constexpr const char* kNamesDir = ".names";

json read_json(const fs::path& p) {
  try {
    return json::parse(sys::read_file(p.string()));
  } catch (const json::exception& e) {
    throw sys::Error("corrupt '" + p.string() + "': " + e.what());
  }
}

// A file of a record being built in its own temp directory: the
// directory's rename makes the record appear whole, so the file needs no
// temp name and rename of its own (two metadata operations fewer per
// container, each 0.1-0.9 ms on this host's busy ext4).
void write_new_file(const fs::path& p, const std::string& data, sys::Durability durability) {
  const sys::Fd fd = sys::open_path(p.string(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  sys::write_all(fd.get(), data);
  if (durability == sys::Durability::fsync) sys::check(::fsync(fd.get()), "fsync '" + p.string() + "'");
}

bool is_hex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}
}  // namespace

std::string to_string(Status s) {
  switch (s) {
    case Status::created: return "created";
    case Status::running: return "running";
    case Status::exited: return "exited";
  }
  return "unknown";
}

static Status status_from_string(const std::string& s) {
  if (s == "running") return Status::running;
  if (s == "exited") return Status::exited;
  return Status::created;
}

void to_json(json& j, const ContainerState& s) {
  j = {{"status", to_string(s.status)}, {"pid", s.pid},
       {"start_time", s.start_time},    {"monitor_pid", s.monitor_pid},
       {"monitor_start_time", s.monitor_start_time},
       {"exit_code", s.exit_code},      {"oom_killed", s.oom_killed},
       {"created_at", s.created_at},    {"started_at", s.started_at},
       {"finished_at", s.finished_at},  {"boot_id", s.boot_id},
       {"error", s.error},              {"cgroup", s.cgroup},
       {"network", s.network}};
}

void from_json(const json& j, ContainerState& s) {
  s.status = status_from_string(j.value("status", "created"));
  s.pid = j.value("pid", 0);
  s.start_time = j.value("start_time", uint64_t{0});
  s.monitor_pid = j.value("monitor_pid", 0);
  s.monitor_start_time = j.value("monitor_start_time", uint64_t{0});
  s.exit_code = j.value("exit_code", 0);
  s.oom_killed = j.value("oom_killed", false);
  s.created_at = j.value("created_at", "");
  s.started_at = j.value("started_at", "");
  s.finished_at = j.value("finished_at", "");
  s.boot_id = j.value("boot_id", "");
  s.error = j.value("error", "");
  s.cgroup = j.value("cgroup", nlohmann::json());
  s.network = j.value("network", nlohmann::json());
}

std::string generate_id() { return sys::random_hex(32); }

std::string generate_name(uint64_t seed) {
  static constexpr const char* kAdjectives[] = {
      "agile", "bold", "brave", "calm", "clever", "cosmic", "crisp", "eager", "fancy", "gentle",
      "happy", "keen", "lucid", "merry", "nifty", "proud", "quick", "quiet", "sharp", "swift",
      "tender", "vivid", "witty", "zen"};
  static constexpr const char* kNouns[] = {
      "baran", "bell", "cerf", "clark", "dijkstra", "elion", "floyd", "hopper", "jacobson", "kahn",
      "kleinrock", "lamport", "metcalfe", "mockapetris", "perlman", "postel", "ritchie", "roberts",
      "saltzer", "shannon", "tanenbaum", "thompson", "torvalds", "turing"};
  constexpr size_t na = std::size(kAdjectives), nn = std::size(kNouns);
  return std::string(kAdjectives[seed % na]) + "_" + kNouns[(seed / na) % nn];
}

bool is_alive(const ContainerState& s) {
  if (s.status != Status::running || s.pid <= 0) return false;
  if (!s.boot_id.empty() && s.boot_id != sys::boot_id()) return false;
  return sys::process_matches(s.pid, s.start_time);
}

StateStore::StateStore(fs::path root)
    : containers_dir_(root / "containers"), root_(std::move(root)), names_(containers_dir_ / kNamesDir) {}

fs::path StateStore::dir(const std::string& id) const { return containers_dir_ / id; }

sys::FileLock StateStore::lock(const std::string& id, sys::FileLock::Mode mode) const {
  // The record's directory itself: no lock file to make per container.
  return sys::FileLock::directory(dir(id).string(), mode);
}

sys::FileLock StateStore::store_lock() const {
  fs::create_directories(containers_dir_);
  return sys::FileLock((containers_dir_ / kStoreLockFile).string(), sys::FileLock::Mode::exclusive);
}

bool StateStore::record_exists(const std::string& id) const {
  std::error_code ec;
  return fs::exists(dir(id) / kConfigFile, ec);
}

void StateStore::ensure_name_index() const {
  if (names_.ready()) return;
  std::error_code ec;
  if (!fs::is_directory(containers_dir_, ec)) return;  // no records: the first claim makes the index
  // A root from an nrun without the index: build it once from the records.
  auto l = store_lock();
  if (names_.ready()) return;
  std::vector<ContainerRecord> records = list();
  std::reverse(records.begin(), records.end());  // oldest first keeps a duplicated name
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& r : records) names.emplace_back(r.config.name, r.id);
  names_.build(names);
}

ContainerRecord StateStore::create(ContainerSpec spec) {
  ensure_name_index();
  auto l = store_lock();
  auto exists = [&](const std::string& id) { return record_exists(id); };
  ContainerRecord rec;
  rec.id = generate_id();
  if (!spec.name.empty()) {
    if (!names_.claim(spec.name, rec.id, exists))
      throw sys::UsageError("container name '" + spec.name + "' is already in use");
  } else {
    const uint64_t seed = std::stoull(rec.id.substr(0, 12), nullptr, 16);
    for (int i = 0;; ++i) {
      const std::string name = generate_name(seed + i) + (i >= 576 ? "_" + std::to_string(i) : "");
      if (names_.claim(name, rec.id, exists)) {
        spec.name = name;
        break;
      }
    }
  }
  if (spec.hostname.empty()) spec.hostname = rec.id.substr(0, 12);
  rec.config = std::move(spec);
  rec.state.created_at = now_rfc3339();
  // Build the record in a temp dir and rename it into place, so a crash never
  // leaves a half-written record under its id. A crash after the claim leaves
  // a name entry with no record, which the next claim of the name replaces.
  const fs::path tmp = containers_dir_ / (".tmp-" + rec.id);
  try {
    fs::create_directory(tmp);
    const auto durability = rec.config.remove ? sys::Durability::none : sys::Durability::fsync;
    write_new_file(tmp / kConfigFile, json(rec.config).dump(2) + "\n", durability);
    write_new_file(tmp / kStateFile, json(rec.state).dump(2) + "\n", durability);
    fs::rename(tmp, dir(rec.id));
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    try {
      names_.release(rec.config.name, rec.id);
    } catch (...) {
      // Stale now, and replaced by the next claim of the name.
    }
    throw;
  }
  return rec;
}

std::optional<std::string> StateStore::try_find_by_name(const std::string& name) const {
  ensure_name_index();
  const auto id = names_.lookup(name);
  if (!id || id->size() != 64 || !is_hex(*id) || !record_exists(*id)) return std::nullopt;
  return id;
}

std::string StateStore::resolve(const std::string& ref) const {
  if (ref.empty()) throw sys::UsageError("empty container reference");
  if (ref.find('/') == std::string::npos && ref[0] != '.' && record_exists(ref)) return ref;
  if (auto id = try_find_by_name(ref)) return *id;
  // An id prefix: the directory's names are enough, no record is read.
  std::vector<std::string> by_prefix;
  if (is_hex(ref)) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(containers_dir_, ec)) {
      const std::string id = entry.path().filename().string();
      if (id.size() == 64 && is_hex(id) && id.compare(0, ref.size(), ref) == 0) by_prefix.push_back(id);
    }
  }
  if (by_prefix.size() == 1) return by_prefix[0];
  if (by_prefix.size() > 1) throw sys::UsageError("container id prefix '" + ref + "' is ambiguous");
  // Not found: before saying so, read the records, for one made by an nrun
  // without the index on this root since the index was built. Only a miss
  // pays for this.
  for (const auto& rec : list())
    if (rec.config.name == ref) return rec.id;
  throw sys::UsageError("no such container: '" + ref + "'");
}

ContainerRecord StateStore::read_unlocked(const std::string& id) const {
  ContainerRecord rec;
  rec.id = id;
  try {
    rec.config = read_json(dir(id) / kConfigFile).get<ContainerSpec>();
    rec.state = read_json(dir(id) / kStateFile).get<ContainerState>();
  } catch (const sys::SysError&) {
    throw;  // not there (ENOENT: removed while we looked), unreadable
  } catch (const std::exception& e) {
    throw CorruptRecord("container record '" + id + "': " + sys::describe(e));
  }
  // A record claims "running" but its process is gone or someone else's:
  // the monitor died or the host rebooted. Show the truth.
  if (rec.state.status == Status::running && !is_alive(rec.state)) {
    rec.state.status = Status::exited;
    if (rec.state.finished_at.empty()) rec.state.exit_code = 255;
  }
  return rec;
}

ContainerRecord StateStore::load(const std::string& id) const {
  if (!fs::exists(dir(id) / kConfigFile)) throw sys::UsageError("no such container: '" + id + "'");
  auto l = lock(id, sys::FileLock::Mode::shared);
  return read_unlocked(id);
}

std::optional<ContainerRecord> StateStore::try_load(const std::string& id) const {
  try {
    return load(id);
  } catch (const sys::UsageError&) {
    return std::nullopt;
  } catch (const sys::SysError& e) {
    if (e.err() == ENOENT) return std::nullopt;  // removed while we looked
    throw;
  }
}

std::optional<ContainerSpec> StateStore::try_load_config(const std::string& id) const {
  try {
    auto l = lock(id, sys::FileLock::Mode::shared);
    return read_json(dir(id) / kConfigFile).get<ContainerSpec>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> StateStore::corrupt_records() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(containers_dir_, ec)) {
    const std::string id = entry.path().filename().string();
    if (id.size() != 64 || !is_hex(id)) continue;
    try {
      (void)try_load(id);
    } catch (const CorruptRecord&) {
      out.push_back(id);
    }
  }
  return out;
}

std::vector<ContainerRecord> StateStore::list() const {
  std::vector<ContainerRecord> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(containers_dir_, ec)) {
    const std::string id = entry.path().filename().string();
    if (id.size() != 64 || !is_hex(id)) continue;
    try {
      if (auto rec = try_load(id)) out.push_back(std::move(*rec));
    } catch (const CorruptRecord& e) {
      log::warn(std::string(e.what()) + ", ignoring");
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.state.created_at > b.state.created_at; });
  return out;
}

ContainerState StateStore::update(const std::string& id, const std::function<void(ContainerState&)>& fn,
                                  sys::Durability durability) {
  auto l = lock(id, sys::FileLock::Mode::exclusive);
  ContainerState s = read_json(dir(id) / kStateFile).get<ContainerState>();
  fn(s);
  sys::write_file_atomic((dir(id) / kStateFile).string(), json(s).dump(2) + "\n", 0644, durability);
  return s;
}

ContainerSpec StateStore::update_config(const std::string& id,
                                       const std::function<void(ContainerSpec&, const ContainerState&)>& fn) {
  auto l = lock(id, sys::FileLock::Mode::exclusive);
  ContainerSpec spec = read_json(dir(id) / kConfigFile).get<ContainerSpec>();
  const ContainerState s = read_json(dir(id) / kStateFile).get<ContainerState>();
  fn(spec, s);
  sys::write_file_atomic((dir(id) / kConfigFile).string(), json(spec).dump(2) + "\n");
  return spec;
}

void StateStore::remove(const std::string& id) {
  // The name is read before the record goes; a record that cannot be read
  // still goes, and its entry, stale, is replaced by the next claim.
  std::string name;
  try {
    name = read_json(dir(id) / kConfigFile).value("name", "");
  } catch (const std::exception&) {
  }
  const fs::path gone = containers_dir_ / (".rm-" + id);
  {
    // Under the store lock, so that a claim of the name (which sees the
    // renamed record as gone) cannot fall between the check and the unlink
    // of release.
    auto l = store_lock();
    // Rename first so readers never see a half-deleted record.
    std::error_code ec;
    fs::rename(dir(id), gone, ec);
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw sys::SysError(ec.value(), "remove container '" + id + "'");
    if (!name.empty()) names_.release(name, id);
  }
  remove_tree(gone);
}

void StateStore::remove_tree(const fs::path& dir) {
  // A gc sweeping the same .rm- directory may delete entries under us:
  // what counts is that it is gone.
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec && fs::exists(dir)) throw sys::SysError(ec.value(), "remove '" + dir.string() + "'");
}

size_t StateStore::sweep_temps() {
  std::vector<fs::path> leftovers;
  auto l = store_lock();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(containers_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".tmp-") || name.starts_with(".rm-")) leftovers.push_back(entry.path());
  }
  for (const auto& dir : leftovers) {
    remove_tree(dir);
    log::info("removed '" + dir.string() + "', left by an nrun that was killed");
  }
  return leftovers.size();
}

}  // namespace nrun::runtime
