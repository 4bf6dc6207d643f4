// The network flags of `run`, spelled as Docker spells them: --net (several
// allowed), --ip, --mac-address, --network-alias, -p/--publish, -P, --expose,
// --dns; their translation into the spec; and the checks that need the
// network store before anything is created.
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/spec.hpp"

namespace nrun::cli {

struct NetworkFlags {
  std::vector<std::string> nets;  // --net/--network, repeatable; default "bridge"
  std::string ip, mac;            // for the first network
  std::vector<std::string> aliases, publish, expose, dns;
  bool publish_all = false;
};

void add_network_flags(CLI::App* cmd, NetworkFlags& f);

// Fills spec.net, networks, ports and dns. Throws UsageError for what can be
// told from the flags alone; validate(spec) checks the rest.
void apply_network_flags(const NetworkFlags& f, runtime::ContainerSpec& spec);

// After validate(), before the record exists: the networks exist, a static
// address is free, a fixed host port is not taken. Throws UsageError.
void check_network_flags(const runtime::ContainerSpec& spec, const std::filesystem::path& root);

}  // namespace nrun::cli
