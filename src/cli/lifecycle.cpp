// nrun stop / kill / rm / prune.
#include <iostream>

#include "cli/commands.hpp"
#include "runtime/container.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"

namespace nrun::cli {
using namespace nrun::runtime;

namespace {
// Applies `fn` to every named container, reports each failure once and
// fails the command if any failed, as Docker does for several names.
void for_each_container(Globals& g, const std::vector<std::string>& refs,
                        const std::function<void(StateStore&, const std::string&)>& fn) {
  StateStore store(g.root);
  std::string first_error;
  for (const auto& ref : refs) {
    try {
      fn(store, store.resolve(ref));
      std::cout << ref << "\n";
    } catch (const std::exception& e) {
      if (!first_error.empty()) log::error(first_error);
      first_error = sys::describe(e);
    }
  }
  std::cout.flush();
  if (!first_error.empty()) throw sys::Error(first_error);
}
}  // namespace

void add_lifecycle_commands(CLI::App& app, Globals& g) {
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto timeout = std::make_shared<int>(10);
    auto* stop = app.add_subcommand("stop", "Stop running containers (SIGTERM, then SIGKILL)");
    stop->add_option("-t,--time", *timeout, "Seconds to wait before SIGKILL")->check(CLI::NonNegativeNumber);
    stop->add_option("CONTAINER", *refs, "Name, id or unique id prefix")->required();
    stop->footer("\nExample:\n  nrun stop -t 2 web\n");
    stop->callback([&g, refs, timeout] {
      for_each_container(g, *refs, [&](StateStore& s, const std::string& id) { stop_container(s, id, *timeout); });
    });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto signal = std::make_shared<std::string>("KILL");
    auto* kill = app.add_subcommand("kill", "Send a signal to running containers");
    kill->add_option("-s,--signal", *signal, "Signal name or number")->capture_default_str();
    kill->add_option("CONTAINER", *refs, "Name, id or unique id prefix")->required();
    kill->footer("\nExample:\n  nrun kill -s HUP web\n");
    kill->callback([&g, refs, signal] {
      const int sig = parse_signal(*signal);
      for_each_container(g, *refs, [&](StateStore& s, const std::string& id) { kill_container(s, id, sig); });
    });
  }
  {
    auto refs = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false);
    auto* rm = app.add_subcommand("rm", "Remove containers");
    rm->add_flag("-f,--force", *force, "Kill a running container first");
    rm->add_option("CONTAINER", *refs, "Name, id or unique id prefix")->required();
    rm->footer("\nExample:\n  nrun rm -f web\n");
    rm->callback([&g, refs, force] {
      // A container that resolves but is removed meanwhile (its --rm
      // monitor, another rm) is gone, as asked; one that never resolves is
      // an error, as in Docker.
      for_each_container(g, *refs,
                         [&](StateStore& s, const std::string& id) { remove_container_if_exists(s, id, *force); });
    });
  }
  {
    auto* gc = app.add_subcommand("gc", "Undo what dead containers still hold (after a killed monitor or a reboot)");
    gc->footer("\nRemoves the cgroups, veths, nftables elements and address leases of containers\n"
               "whose process is gone, and records them as exited. rm does the same per container.\n\n"
               "Example:\n  nrun gc\n");
    gc->callback([&g] {
      StateStore store(g.root);
      for (const auto& id : collect_garbage(store)) std::cout << id << "\n";
    });
  }
  {
    auto* prune = app.add_subcommand("prune", "Remove all stopped containers");
    prune->footer("\nExample:\n  nrun prune\n");
    prune->callback([&g] {
      StateStore store(g.root);
      for (const auto& rec : store.list()) {
        if (is_alive(rec.state) || rec.state.status == Status::created) continue;
        // Listed, then removed by its own monitor (run --rm) or another
        // command before this got to it: skipped, never an error.
        if (remove_container_if_exists(store, rec.id, false)) std::cout << rec.id << "\n";
      }
    });
  }
}

}  // namespace nrun::cli
