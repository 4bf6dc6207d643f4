// nrun image import / ls / rm / export, and nrun commit.
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/table.hpp"
#include "runtime/container.hpp"
#include "runtime/image_store.hpp"
#include "runtime/resource_parse.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {
using namespace nrun::runtime;

namespace {

// Docker's units (powers of 1000, three significant digits), so sizes read
// the same as `docker images`.
std::string human_size(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1000 && unit + 1 < std::size(kUnits)) {
    v /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g%s", v, kUnits[unit]);
  return buf;
}

void require_image_name(const std::string& name) {
  if (!ImageStore::is_valid_name(name))
    throw sys::UsageError("invalid image name '" + name +
                          "': use lowercase letters, digits, '_', '.' and '-', with an optional ':tag'");
}

void add_import(CLI::App& image, Globals& g) {
  auto file = std::make_shared<std::string>(), name = std::make_shared<std::string>();
  auto max_size = std::make_shared<std::string>();
  auto* cmd = image.add_subcommand("import", "Create an image from a rootfs tarball or directory");
  cmd->add_option("FILE", *file, "Tarball (plain, gzip, bzip2, xz or zstd) or directory")->required();
  cmd->add_option("NAME", *name, "Name of the new image, [a-z0-9][a-z0-9_.-]* with an optional :tag")
      ->required();
  cmd->add_option("--max-size", *max_size, "Refuse a tarball that unpacks to more than this (e.g. 2g)");
  cmd->footer(
      "\nModes, owners, symlinks, hard links, device nodes, xattrs and sparse files are\n"
      "kept. A tarball that would unpack to more than the store's filesystem can take\n"
      "(keeping 5% of it, at most 1 GiB, free) is refused, and so is one past --max-size.\n"
      "\nExamples:\n"
      "  nrun image import alpine-minirootfs.tar.gz alpine:3.19\n"
      "  nrun image import --max-size 500m untrusted.tar.gz untrusted\n"
      "  nrun image import ./rootfs mybox\n");
  cmd->callback([&g, file, name, max_size] {
    require_image_name(*name);
    uint64_t limit = UINT64_MAX;
    if (!max_size->empty()) {
      const auto v = try_parse_size(*max_size);
      if (!v || *v <= 0) throw sys::UsageError("invalid --max-size '" + *max_size + "': expected a size like 500m or 2g");
      limit = static_cast<uint64_t>(*v);
    }
    ImageStore(g.root).import(*file, *name, limit);
  });
}

void add_ls(CLI::App& image, Globals& g) {
  auto format = std::make_shared<std::string>("table");
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = image.add_subcommand("ls", "List images");
  cmd->alias("list");
  cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->add_flag("-q,--quiet", *quiet, "Only print image names");
  cmd->footer(
      "\nSIZE is the sum of the image's layers; layers shared between images count in each.\n"
      "The default image 'busybox' appears once it has been used.\n"
      "\nExamples:\n"
      "  nrun image ls\n"
      "  nrun image ls --format json\n");
  cmd->callback([&g, format, quiet] {
    const auto images = ImageStore(g.root).list();
    if (*quiet) {
      for (const auto& i : images) std::cout << i.name << "\n";
      return;
    }
    if (*format == "json") {
      auto out = nlohmann::json::array();
      for (const auto& i : images)
        out.push_back({{"name", i.name}, {"layers", i.layers}, {"size", i.size_bytes}, {"created", i.created}});
      std::cout << out.dump(2) << "\n";
      return;
    }
    Table t({"NAME", "LAYERS", "SIZE", "CREATED"});
    for (const auto& i : images)
      t.add({i.name, std::to_string(i.layers.size()), human_size(i.size_bytes), i.created});
    t.print(std::cout);
  });
}

void add_rm(CLI::App& image, Globals& g) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = image.add_subcommand("rm", "Remove images");
  cmd->add_option("NAME", *names, "Images to remove")->required();
  cmd->footer(
      "\nLayers still used by another image are kept. An image that a container\n"
      "(running or not) was created from cannot be removed until that container is.\n"
      "\nExamples:\n"
      "  nrun image rm mybox\n"
      "  nrun image rm snapshot alpine:3.19\n");
  cmd->callback([&g, names] {
    ImageStore images(g.root);
    // Everything is checked before anything is removed.
    for (const auto& n : *names) {
      require_image_name(n);
      if (!images.exists(n)) throw sys::UsageError("unknown image '" + n + "'");
    }
    for (const auto& c : StateStore(g.root).list())
      for (const auto& n : *names)
        if (c.config.image == n)
          throw sys::Error("image '" + n + "' is used by container '" + c.config.name + "' (" + c.short_id() +
                           "); remove the container first");
    for (const auto& n : *names) images.remove(n);
  });
}

void add_export(CLI::App& image, Globals& g) {
  auto name = std::make_shared<std::string>(), file = std::make_shared<std::string>();
  auto* cmd = image.add_subcommand("export", "Write an image as one flat tarball");
  cmd->add_option("NAME", *name, "Image to export")->required();
  cmd->add_option("FILE", *file, "Tarball to write; gzip for .gz/.tgz, xz for .xz/.txz")->required();
  cmd->footer(
      "\nThe layers are merged and deleted files left out, so `nrun image import`\n"
      "reads the tarball back as a one-layer image.\n"
      "\nExamples:\n"
      "  nrun image export snapshot snapshot.tar\n"
      "  nrun image export busybox busybox.tar.gz\n");
  cmd->callback([&g, name, file] {
    require_image_name(*name);
    ImageStore(g.root).export_tar(*name, *file);
  });
}

void add_commit(CLI::App& app, Globals& g) {
  auto container = std::make_shared<std::string>(), name = std::make_shared<std::string>();
  auto pause = std::make_shared<bool>(true);
  auto* cmd = app.add_subcommand("commit", "Create an image from a container's changes");
  cmd->add_option("CONTAINER", *container, "Container name or id")->required();
  cmd->add_option("NAME", *name, "Name of the new image")->required();
  cmd->add_flag("-p,--pause", *pause, "Pause a running container while its files are copied (default true)");
  cmd->footer(
      "\nThe new image is the container's image plus one layer holding what the\n"
      "container changed; the base layers are shared, not copied. A running\n"
      "container is paused (cgroup freezer) while its files are copied and resumed\n"
      "after; --pause=false copies it running. Either way the copy never follows a\n"
      "symlink out of the container's files.\n"
      "\nExamples:\n"
      "  nrun commit web web-snapshot\n"
      "  nrun commit --pause=false web web-live\n"
      "  nrun run --name c1 busybox sh -c 'echo hi > /greeting' && nrun commit c1 greeted\n");
  cmd->callback([&g, container, name, pause] {
    require_image_name(*name);
    StateStore states(g.root);
    ImageStore images(g.root);
    commit_container({states, images}, states.resolve(*container), *name, *pause);
  });
}

}  // namespace

void add_image_commands(CLI::App& app, Globals& g) {
  auto* image = app.add_subcommand("image", "Manage images");
  image->require_subcommand(1);
  image->footer("\nRun 'nrun image COMMAND --help' for more information on a command.\n");
  add_import(*image, g);
  add_ls(*image, g);
  add_rm(*image, g);
  add_export(*image, g);
  add_commit(app, g);
}

}  // namespace nrun::cli
