// nrun run / create / start.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/network_flags.hpp"
#include "cli/resource_flags.hpp"
#include "cli/security_flags.hpp"
#include "runtime/container.hpp"
#include "runtime/image_store.hpp"
#include "runtime/spec.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {
using namespace nrun::runtime;

namespace {
struct RunOptions {
  bool detach = false, interactive = false, tty = false, remove = false, read_only = false;
  std::string name, hostname, workdir = "/";
  NetworkFlags network;
  std::string pid_mode, ipc_mode, uts_mode;
  std::vector<std::string> env, env_files, volumes;
  ResourceFlags resources;
  SecurityFlags security;
};

// "container:NAME" -> "container:<id>", so the link survives renames and
// names the exact container.
std::string resolve_shared(const StateStore& store, const std::string& mode) {
  const std::string ref = shared_container_of(mode);
  return ref.empty() ? mode : "container:" + store.resolve(ref);
}

ContainerSpec build_spec(const RunOptions& o, const std::vector<std::string>& words, ImageStore& images,
                         const StateStore& store) {
  ContainerSpec spec;
  auto split = split_image_and_command(
      words, [&](const std::string& w) { return ImageStore::is_valid_name(w) && images.try_get(w).has_value(); },
      ImageStore::kDefaultImage);
  spec.image = split.image;
  spec.command = split.command;
  spec.name = o.name;
  spec.hostname = o.hostname;
  spec.workdir = o.workdir;
  apply_network_flags(o.network, spec);
  spec.tty = o.tty;
  spec.interactive = o.interactive;
  spec.remove = o.remove;
  spec.read_only = o.read_only;
  for (const auto& f : o.env_files)
    for (auto& e : read_env_file(f)) spec.env.push_back(std::move(e));
  for (const auto& e : o.env) spec.env.push_back(parse_env_entry(e));
  for (const auto& v : o.volumes) spec.volumes.push_back(parse_volume(v));
  spec.resources = to_resources(o.resources);
  spec.pid_mode = o.pid_mode;
  spec.ipc_mode = o.ipc_mode;
  spec.uts_mode = o.uts_mode;
  apply_security_flags(o.security, spec);
  validate(spec);
  check_security_flags(spec);
  spec.net = resolve_shared(store, spec.net);
  spec.pid_mode = resolve_shared(store, spec.pid_mode);
  spec.ipc_mode = resolve_shared(store, spec.ipc_mode);
  images.get(spec.image);  // unknown image: fail before anything exists
  check_network_flags(spec, store.root());
  return spec;
}
}  // namespace

void add_run_commands(CLI::App& app, Globals& g) {
  auto opts = std::make_shared<RunOptions>();
  auto* run = app.add_subcommand("run", "Run a command in a new container");
  run->prefix_command();  // options end at the first word: IMAGE or COMMAND
  run->add_flag("-d,--detach", opts->detach, "Run in the background and print the container id");
  run->add_flag("-i,--interactive", opts->interactive, "Keep stdin open and pass it to the container");
  run->add_flag("-t,--tty", opts->tty, "Give the container a terminal");
  run->add_flag("--rm", opts->remove, "Remove the container when it exits");
  run->add_flag("--read-only", opts->read_only, "Mount the container's root filesystem read-only");
  run->add_option("--name", opts->name, "Name the container");
  run->add_option("--hostname", opts->hostname, "Container hostname (default: the short id)");
  run->add_option("-e,--env", opts->env, "Set an environment variable KEY=VALUE (repeatable)")->allow_extra_args(false);
  run->add_option("--env-file", opts->env_files, "Read KEY=VALUE lines from a file")->allow_extra_args(false);
  run->add_option("-w,--workdir", opts->workdir, "Working directory inside the container");
  run->add_option("-v,--volume", opts->volumes, "Bind mount HOST:CONTAINER[:ro] (repeatable)")->allow_extra_args(false);
  add_network_flags(run, opts->network);
  add_resource_flags(run, opts->resources);
  add_security_flags(run, opts->security);
  run->add_option("--pid", opts->pid_mode, "PID namespace: host or container:NAME");
  run->add_option("--ipc", opts->ipc_mode, "IPC namespace: host or container:NAME");
  run->add_option("--uts", opts->uts_mode, "UTS namespace: host");
  run->footer(
      "\nThe first word is the image when a local image has that name; otherwise the\n"
      "default image 'busybox' is used and every word is the command.\n\n"
      "Examples:\n"
      "  nrun run top                         # busybox image, command top\n"
      "  nrun run busybox ps                  # the same image, named\n"
      "  nrun run -it --rm busybox sh\n"
      "  nrun run -d --name web -v $PWD:/www:ro busybox httpd -f -p 8080 -h /www\n");
  run->callback([&g, opts, run] {
    StateStore store(g.root);
    collect_after_reboot(store);
    ImageStore images(g.root);
    const ContainerSpec spec = build_spec(*opts, run->remaining(), images, store);
    const ContainerRecord rec = store.create(spec);
    if (opts->detach) {
      start_detached({store, images}, rec.id, /*remove_on_failure=*/true);
      std::cout << rec.id << std::endl;
      g.exit_code = 0;
    } else {
      g.exit_code = run_attached({store, images}, rec.id, /*remove_on_failure=*/true);
    }
  });

  auto names = std::make_shared<std::vector<std::string>>();
  auto attach = std::make_shared<bool>(false);
  auto* start = app.add_subcommand("start", "Start one or more stopped containers");
  start->add_flag("-a,--attach", *attach, "Attach to the container's output and wait for it (one container)");
  start->add_option("CONTAINER", *names, "Name, id or unique id prefix")->required();
  start->footer("\nExample:\n  nrun start web\n");
  start->callback([&g, names, attach] {
    StateStore store(g.root);
    ImageStore images(g.root);
    if (*attach) {
      if (names->size() != 1) throw sys::UsageError("start --attach takes exactly one container");
      g.exit_code = run_attached({store, images}, store.resolve(names->front()), false);
      return;
    }
    for (const auto& n : *names) {
      start_detached({store, images}, store.resolve(n), false);
      std::cout << n << "\n";
    }
  });
}

}  // namespace nrun::cli
