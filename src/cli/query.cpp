// nrun ps / inspect / logs.
#include <poll.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/table.hpp"
#include "runtime/container_log.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {
using namespace nrun::runtime;
using nlohmann::json;

namespace {
std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string status_text(const ContainerRecord& r) {
  switch (r.state.status) {
    case Status::running: return "Up since " + r.state.started_at.substr(0, 19);
    case Status::exited: return "Exited (" + std::to_string(r.state.exit_code) + ")" + (r.state.oom_killed ? " OOMKilled" : "");
    default: return "Created";
  }
}

// Docker's inspect shape, so scripts written for `docker inspect` carry over.
json inspect_json(const StateStore& store, const ContainerRecord& r) {
  const bool running = r.state.status == Status::running;
  return {{"Id", r.id},
          {"Name", r.config.name},
          {"Created", r.state.created_at},
          {"Image", r.config.image},
          {"Path", r.config.command.empty() ? "" : r.config.command[0]},
          {"Args", std::vector<std::string>(r.config.command.begin() + (r.config.command.empty() ? 0 : 1),
                                            r.config.command.end())},
          {"State",
           {{"Status", to_string(r.state.status)},
            {"Running", running},
            {"Pid", running ? r.state.pid : 0},
            {"ExitCode", r.state.exit_code},
            {"OOMKilled", r.state.oom_killed},
            {"Error", r.state.error},
            {"StartedAt", r.state.started_at},
            {"FinishedAt", r.state.finished_at}}},
          {"Config", r.config},
          {"LogPath", (store.dir(r.id) / "container.log").string()},
          {"GraphDriver",
           {{"Name", "overlay"},
            {"Data",
             {{"UpperDir", (store.dir(r.id) / "upper").string()},
              {"WorkDir", (store.dir(r.id) / "work").string()}}}}}};
}

void print_record(const LogRecord& r, bool timestamps) {
  const std::string text = timestamps ? r.time + " " + r.text : r.text;
  sys::write_all(r.stream == "stderr" ? STDERR_FILENO : STDOUT_FILENO, text);
}
}  // namespace

void add_query_commands(CLI::App& app, Globals& g) {
  {
    auto all = std::make_shared<bool>(false), quiet = std::make_shared<bool>(false);
    auto format = std::make_shared<std::string>("table");
    auto* ps = app.add_subcommand("ps", "List containers");
    ps->add_flag("-a,--all", *all, "Show all containers (default: running only)");
    ps->add_flag("-q,--quiet", *quiet, "Only print full ids");
    ps->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ps->footer("\nExamples:\n  nrun ps\n  nrun ps -a --format json\n");
    ps->callback([&g, all, quiet, format] {
      StateStore store(g.root);
      std::vector<ContainerRecord> shown;
      for (auto& r : store.list())
        if (*all || r.state.status == Status::running) shown.push_back(std::move(r));
      if (*quiet) {
        for (const auto& r : shown) std::cout << r.id << "\n";
        return;
      }
      if (*format == "json") {
        json out = json::array();
        for (const auto& r : shown) out.push_back(inspect_json(store, r));
        std::cout << out.dump(2) << "\n";
        return;
      }
      Table t({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"});
      for (const auto& r : shown)
        t.add({r.short_id(), r.config.image, "\"" + join_command(r.config.command).substr(0, 30) + "\"",
               r.state.created_at.substr(0, 19), status_text(r), r.config.name});
      t.print(std::cout);
    });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto* inspect = app.add_subcommand("inspect", "Show containers' configuration and state as JSON");
    inspect->add_option("CONTAINER", *refs, "Name, id or unique id prefix")->required();
    inspect->footer("\nExample:\n  nrun inspect web\n");
    inspect->callback([&g, refs] {
      StateStore store(g.root);
      json out = json::array();
      for (const auto& ref : *refs) out.push_back(inspect_json(store, store.load(store.resolve(ref))));
      std::cout << out.dump(2) << "\n";
    });
  }
  {
    auto ref = std::make_shared<std::string>();
    auto follow = std::make_shared<bool>(false), timestamps = std::make_shared<bool>(false);
    auto tail = std::make_shared<std::string>("all");
    auto* logs = app.add_subcommand("logs", "Show a detached container's output");
    logs->add_flag("-f,--follow", *follow, "Keep printing new output until the container exits");
    logs->add_flag("-t,--timestamps", *timestamps, "Prefix each line with its time");
    logs->add_option("-n,--tail", *tail, "Number of lines from the end, or 'all'");
    logs->add_option("CONTAINER", *ref, "Name, id or unique id prefix")->required();
    logs->footer("\nExamples:\n  nrun logs web\n  nrun logs -f --tail 10 web\n");
    logs->callback([&g, ref, follow, timestamps, tail] {
      StateStore store(g.root);
      const std::string id = store.resolve(*ref);
      size_t keep = SIZE_MAX;
      if (*tail != "all") {
        try {
          keep = std::stoul(*tail);
        } catch (...) {
          throw sys::UsageError("invalid --tail '" + *tail + "': a number or 'all'");
        }
      }
      const std::string path = (store.dir(id) / "container.log").string();
      std::ifstream in(path);
      std::deque<LogRecord> last;
      std::string line;
      while (std::getline(in, line)) {
        if (auto r = parse_log_line(line)) {
          last.push_back(std::move(*r));
          if (last.size() > keep) last.pop_front();
        }
      }
      for (const auto& r : last) print_record(r, *timestamps);
      if (!*follow) return;
      // Follow: poll the file while the container runs, then read the rest.
      for (;;) {
        in.clear();
        const bool running = [&] {
          auto rec = store.try_load(id);
          return rec && is_alive(rec->state);
        }();
        while (std::getline(in, line)) {
          if (in.eof()) {  // a partial line: wait for its end
            in.clear();
            in.seekg(-static_cast<std::streamoff>(line.size()), std::ios::cur);
            break;
          }
          if (auto r = parse_log_line(line)) print_record(*r, *timestamps);
        }
        if (!running) return;
        ::poll(nullptr, 0, 100);
      }
    });
  }
}

}  // namespace nrun::cli
