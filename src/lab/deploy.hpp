// Bringing a lab up and down with the runtime and net modules: the "do"
// layer over plan.hpp. Everything a plan asks for is checked before the
// first object exists; then each step records what it is about to create
// in the lab's file before creating it, so destroy can always remove
// exactly what a deploy made, whether it finished, failed or was killed.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lab/lab_store.hpp"
#include "lab/netns_names.hpp"
#include "lab/plan.hpp"
#include "lab/topology.hpp"
#include "net/netem.hpp"

namespace nrun::lab {

struct LabPaths {
  std::filesystem::path root;                   // nrun's root
  std::filesystem::path netns_dir = kNetnsDir;  // where namespace names go
};

struct DeployOptions {
  bool reconfigure = false;                          // destroy a deployed lab of that name first
  std::filesystem::path file;                        // the topology file (recorded, for ls)
  std::string text;                                  // its contents (recorded, for graph)
  std::function<void(const std::string&)> progress;  // told each step's name before it runs
};

// Checks (UsageError, nothing created) that the plan can be deployed: the
// images exist, the containers' names, networks, bridges, subnets and
// namespace names are free, and every node's spec is valid.
void check_deployable(const LabPaths& paths, const LabPlan& plan);

// Deploys the plan. On a failure at any step, destroys what was made and
// throws Error naming the step.
void deploy_lab(const LabPaths& paths, const LabPlan& plan, const DeployOptions& opts);

// Removes everything the lab's record lists: namespace names, containers
// (with their leases, veths and nft elements), networks, then the record.
// Every step runs whatever fails; failures are thrown together at the end,
// and the record stays for another try. UsageError for an unknown lab or a
// lab whose deploy is still running.
void destroy_lab(const LabPaths& paths, const std::string& name);

// Sets (an empty spec: clears) the impairment of one interface of a
// running node, and records it.
void set_interface_netem(const LabPaths& paths, const std::string& lab, const std::string& node,
                         const std::string& ifname, const net::NetemSpec& spec);

// A node as it is now, for inspect.
struct NodeStatus {
  std::string name, container;
  std::string state;  // running, exited, created, or missing
  pid_t pid = 0;
  std::vector<InterfaceRecord> interfaces;
};
std::vector<NodeStatus> lab_status(const LabPaths& paths, const LabRecord& record);

}  // namespace nrun::lab
