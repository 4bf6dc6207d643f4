// nrun's entry point: one CLI11 app, one top-level catch, Docker's exit codes
// (125 nrun's own failure, 126 cannot execute, 127 not found, else the
// container's status).
#include <cstdlib>
#include <iostream>

#include "cli/commands.hpp"
#include "runtime/launch_error.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/log.hpp"

namespace {
constexpr int kNrunFailed = 125;

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

  cli::add_run_commands(app, g);
  cli::add_lifecycle_commands(app, g);
  cli::add_query_commands(app, g);
  cli::add_image_commands(app, g);
  cli::add_resource_commands(app, g);
  cli::add_exec_commands(app, g);
  cli::add_network_commands(app, g);

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
  }
  return g.exit_code;
}
