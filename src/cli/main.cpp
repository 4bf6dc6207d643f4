// nrun's entry point: one CLI11 app, one top-level catch, Docker's exit codes
// (125 nrun's own failure, 126 cannot execute, 127 not found, else the
// container's status).
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"
#include "runtime/launch_error.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"

namespace {
constexpr int kNrunFailed = 125;

// Command groups by their top-level words. Only the group of the command
// being run is registered: building every subcommand's options costs more
// than `nrun exec` itself. Help, and a word nobody owns, register them all.
struct CommandGroup {
  std::vector<std::string_view> words;
  void (*add)(CLI::App&, nrun::cli::Globals&);
};
const std::vector<CommandGroup>& command_groups() {
  using namespace nrun::cli;
  static const std::vector<CommandGroup> kGroups = {
      {{"run", "start"}, add_run_commands},
      {{"stop", "kill", "rm", "prune", "gc"}, add_lifecycle_commands},
      {{"ps", "inspect", "logs"}, add_query_commands},
      {{"image", "commit"}, add_image_commands},
      {{"stats", "update"}, add_resource_commands},
      {{"exec"}, add_exec_commands},
      {{"network", "port"}, add_network_commands},
      {{"lab"}, add_lab_commands},
  };
  return kGroups;
}

// The first word after nrun's own options, or "" when there is none.
std::string_view command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--root" || a == "--log-level") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    return a;
  }
  return "";
}

// Registers the group that owns `word` and returns true; otherwise
// registers every group (for help) and returns false.
bool register_commands(CLI::App& app, nrun::cli::Globals& g, std::string_view word) {
  for (const auto& group : command_groups())
    for (const auto w : group.words)
      if (w == word) {
        group.add(app, g);
        return true;
      }
  for (const auto& group : command_groups()) group.add(app, g);
  return false;
}

void print_error(const std::exception& e) { nrun::log::error(nrun::sys::describe(e)); }
}  // namespace

int main(int argc, char** argv) {
  using namespace nrun;
  cli::Globals g;
  const char* env_root = std::getenv("NRUN_ROOT");
  g.root = env_root && *env_root ? env_root : "/var/lib/nrun";
  g.log_level = "warn";

  CLI::App app{"nrun: a container runtime whose networking is native netlink", "nrun"};
  app.option_defaults()->always_capture_default();
  app.add_option("--root", g.root, "State directory (also NRUN_ROOT)")->capture_default_str();
  app.add_option("--log-level", g.log_level, "error, warn, info or debug")->capture_default_str();
  app.require_subcommand(1);
  app.footer("Run 'nrun COMMAND --help' for more information on a command.");
  app.parse_complete_callback([&] { log::set_level(log::parse_level(g.log_level)); });

  const std::string_view word = command_word(argc, argv);
  if (!register_commands(app, g, word) && !word.empty()) {
    std::cerr << "nrun: unknown command '" << word << "'\nSee 'nrun --help'.\n";
    return kNrunFailed;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "nrun: " << e.what() << "\nSee 'nrun --help'.\n";
    return kNrunFailed;
  } catch (const runtime::LaunchError& e) {
    print_error(e);
    return e.exit_code();
  } catch (const std::exception& e) {
    print_error(e);
    return kNrunFailed;
  } catch (...) {
    // Nothing nrun throws lands here; a library's odd type must still end
    // in an error, not std::terminate.
    log::error("unknown error");
    return kNrunFailed;
  }
  return g.exit_code;
}
