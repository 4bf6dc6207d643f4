// nrun stats / update: containers' resource use, and new limits for them.
#include <time.h>

#include <cstdio>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "cli/resource_flags.hpp"
#include "cli/table.hpp"
#include "runtime/container_resources.hpp"
#include "runtime/resource_parse.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {
using namespace nrun::runtime;
using nlohmann::json;

namespace {
constexpr const char* kClearScreen = "\033[2J\033[H";

struct Row {
  std::string id, name;
  UsageSample now;
  double cpu_percent = 0;
};

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", v);
  return buf;
}

uint64_t memory_limit(const UsageSample& s) { return s.cgroup.memory_limit.value_or(s.host_memory); }

double memory_percent(const UsageSample& s) {
  const uint64_t limit = memory_limit(s);
  return limit ? 100.0 * static_cast<double>(s.cgroup.memory_usage) / static_cast<double>(limit) : 0;
}

// docker stats' columns, BLOCK I/O aside. A container that does not run
// shows "--", as Docker shows it.
std::vector<std::string> table_row(const Row& r) {
  const UsageSample& s = r.now;
  if (!s.running) return {r.id.substr(0, 12), r.name, "--", "-- / --", "--", "--", "--"};
  const bool cg = s.has_cgroup;
  return {
      r.id.substr(0, 12),
      r.name,
      cg ? percent(r.cpu_percent) : "--",
      cg ? format_binary_size(static_cast<double>(s.cgroup.memory_usage)) + " / " +
               format_binary_size(static_cast<double>(memory_limit(s)))
         : "-- / --",
      cg ? percent(memory_percent(s)) : "--",
      format_decimal_size(static_cast<double>(s.net_rx)) + " / " + format_decimal_size(static_cast<double>(s.net_tx)),
      cg ? std::to_string(s.cgroup.pids) : "--"};
}

// Docker's --format json keys (strings as people read them), plus the raw
// numbers for scripts.
json json_row(const Row& r) {
  const auto cells = table_row(r);
  const UsageSample& s = r.now;
  return {{"ID", cells[0]},
          {"Name", r.name},
          {"CPUPerc", cells[2]},
          {"MemUsage", cells[3]},
          {"MemPerc", cells[4]},
          {"NetIO", cells[5]},
          {"PIDs", cells[6]},
          {"Running", s.running},
          {"CPUPercent", r.cpu_percent},
          {"MemUsageBytes", s.cgroup.memory_usage},
          {"MemLimitBytes", s.running ? memory_limit(s) : 0},
          {"NetRxBytes", s.net_rx},
          {"NetTxBytes", s.net_tx},
          {"PIDsCurrent", s.cgroup.pids}};
}

// The share of one CPU used between two samples, in percent (so 150 is one
// and a half CPUs, as docker stats reports it).
double cpu_percent(const UsageSample& before, const UsageSample& now) {
  if (!before.running || !now.running || now.taken_ns <= before.taken_ns) return 0;
  if (now.cgroup.cpu_usage_ns < before.cgroup.cpu_usage_ns) return 0;
  return 100.0 * static_cast<double>(now.cgroup.cpu_usage_ns - before.cgroup.cpu_usage_ns) /
         static_cast<double>(now.taken_ns - before.taken_ns);
}

void sleep_one_second() {
  timespec ts{1, 0};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

struct StatsOptions {
  std::vector<std::string> refs;
  bool all = false, no_stream = false;
  std::string format = "table";
};

// The records to show this round: the named ones still on disk, or every
// running one (every one with --all).
std::vector<ContainerRecord> shown_records(const StateStore& store, const StatsOptions& o,
                                           const std::vector<std::string>& ids) {
  std::vector<ContainerRecord> out;
  if (!o.refs.empty()) {
    for (const auto& id : ids)
      if (auto rec = store.try_load(id)) out.push_back(std::move(*rec));
    return out;
  }
  for (auto& rec : store.list())
    if (o.all || rec.state.status == Status::running) out.push_back(std::move(rec));
  return out;
}

void print(const std::vector<Row>& rows, const StatsOptions& o) {
  if (o.format == "json") {
    for (const auto& r : rows) std::cout << json_row(r).dump() << "\n";
    std::cout.flush();
    return;
  }
  Table t({"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "PIDS"});
  for (const auto& r : rows) t.add(table_row(r));
  if (!o.no_stream) std::cout << kClearScreen;
  t.print(std::cout);
  std::cout.flush();
}

void run_stats(const StateStore& store, const StatsOptions& o) {
  std::vector<std::string> ids;
  for (const auto& ref : o.refs) ids.push_back(store.resolve(ref));
  // CPU use is a rate: each round compares with the sample a second before.
  std::map<std::string, UsageSample> before;
  for (const auto& rec : shown_records(store, o, ids)) before[rec.id] = sample_usage(rec);
  for (;;) {
    sleep_one_second();
    const auto records = shown_records(store, o, ids);
    if (!o.refs.empty() && records.empty()) throw sys::Error("the containers were removed");
    std::vector<Row> rows;
    std::map<std::string, UsageSample> now;
    for (const auto& rec : records) {
      Row r{rec.id, rec.config.name, sample_usage(rec)};
      if (auto it = before.find(rec.id); it != before.end()) r.cpu_percent = cpu_percent(it->second, r.now);
      now[rec.id] = r.now;
      rows.push_back(std::move(r));
    }
    print(rows, o);
    if (o.no_stream) return;
    before = std::move(now);
  }
}
}  // namespace

void add_resource_commands(CLI::App& app, Globals& g) {
  {
    auto o = std::make_shared<StatsOptions>();
    auto* stats = app.add_subcommand("stats", "Show containers' resource use, refreshed every second");
    stats->add_flag("-a,--all", o->all, "Show every container (default: running ones)");
    stats->add_flag("--no-stream", o->no_stream, "Print one sample and exit");
    stats->add_option("--format", o->format, "table or json (one object per container per line)")
        ->check(CLI::IsMember({"table", "json"}));
    stats->add_option("CONTAINER", o->refs, "Name, id or unique id prefix (default: every running container)");
    stats->footer(
        "\nCPU % is the share of one CPU, so a container busy on two CPUs shows 200%.\n"
        "MEM USAGE leaves out inactive page cache; an unlimited container's LIMIT is\n"
        "the host's memory.\n\n"
        "Examples:\n  nrun stats\n  nrun stats --no-stream --format json web\n");
    stats->callback([&g, o] { run_stats(StateStore(g.root), *o); });
  }
  {
    auto flags = std::make_shared<ResourceFlags>();
    auto refs = std::make_shared<std::vector<std::string>>();
    auto* update = app.add_subcommand("update", "Change the resource limits of containers");
    add_resource_flags(update, *flags);
    update->add_option("CONTAINER", *refs, "Name, id or unique id prefix")->required();
    update->footer(
        "\nA running container gets the new limits at once; every container keeps\n"
        "them for its next start. --cpus 0 lifts the CPU limit.\n\n"
        "Examples:\n  nrun update --memory 512m --memory-swap 1g web\n  nrun update --cpus 1.5 --pids-limit 200 web\n");
    update->callback([&g, flags, refs] {
      if (!flags->any_given())
        throw sys::UsageError(
            "nothing to update: give --memory, --memory-swap, --cpus, --cpu-shares, "
            "--cpuset-cpus or --pids-limit");
      StateStore store(g.root);
      for (const auto& ref : *refs) {
        update_resources(store, store.resolve(ref), [&](const Resources& cur) { return merge_resources(cur, *flags); });
        std::cout << ref << "\n";
      }
    });
  }
}

}  // namespace nrun::cli
