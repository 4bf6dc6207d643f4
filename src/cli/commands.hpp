// Each command group registers its subcommands on the app. Callbacks run
// after parsing and store the process exit code in Globals.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace nrun::cli {

struct Globals {
  std::string root;        // --root / NRUN_ROOT / /var/lib/nrun
  std::string log_level;   // --log-level
  int exit_code = 0;
};

void add_run_commands(CLI::App& app, Globals& g);        // run, create?, start
void add_lifecycle_commands(CLI::App& app, Globals& g);  // stop, kill, rm, prune
void add_query_commands(CLI::App& app, Globals& g);      // ps, inspect, logs
void add_image_commands(CLI::App& app, Globals& g);      // image import/ls/rm/export, commit
void add_resource_commands(CLI::App& app, Globals& g);   // stats, update
void add_exec_commands(CLI::App& app, Globals& g);       // exec
void add_network_commands(CLI::App& app, Globals& g);    // network create/ls/inspect/rm/connect/disconnect/prune, port
void add_lab_commands(CLI::App& app, Globals& g);        // lab deploy/destroy/ls/inspect/exec/netem/graph

}  // namespace nrun::cli
