// nrun exec.
#include "cli/commands.hpp"
#include "runtime/exec.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {
using namespace nrun::runtime;

void add_exec_commands(CLI::App& app, Globals& g) {
  auto spec = std::make_shared<ExecSpec>();
  auto container = std::make_shared<std::string>();
  auto* exec = app.add_subcommand("exec", "Run a command in a running container");
  exec->prefix_command();  // options end at CONTAINER
  exec->add_flag("-i,--interactive", spec->interactive, "Keep stdin open and pass it to the command");
  exec->add_flag("-t,--tty", spec->tty, "Give the command a terminal");
  exec->add_flag("-d,--detach", spec->detach, "Run the command in the background");
  exec->add_option("-e,--env", spec->env, "Set an environment variable KEY=VALUE (repeatable)")->allow_extra_args(false);
  exec->add_option("-w,--workdir", spec->workdir, "Working directory inside the container");
  exec->add_option("-u,--user", spec->user, "USER[:GROUP], names from the container's /etc/passwd");
  exec->footer(
      "\nThe command joins the container's mount, pid, net, uts, ipc and cgroup\n"
      "namespaces and its cgroup, with the container's environment.\n\n"
      "Examples:\n"
      "  nrun exec web ps\n"
      "  nrun exec -it web sh\n"
      "  nrun exec -e DEBUG=1 -w /tmp -u nobody web env\n");
  exec->callback([&g, spec, exec] {
    auto words = exec->remaining();
    if (words.empty()) throw sys::UsageError("exec needs a container and a command");
    if (words[0].size() > 1 && words[0][0] == '-') throw sys::UsageError("unknown flag '" + words[0] + "'");
    if (words.size() < 2) throw sys::UsageError("exec needs a command after the container");
    StateStore store(g.root);
    ExecSpec s = *spec;
    s.command.assign(words.begin() + 1, words.end());
    g.exit_code = exec_in_container(store, store.resolve(words[0]), s);
  });
}

}  // namespace nrun::cli
