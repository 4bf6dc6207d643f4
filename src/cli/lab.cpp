// nrun lab deploy / destroy / ls / inspect / exec / netem / graph.
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/table.hpp"
#include "lab/deploy.hpp"
#include "lab/graph.hpp"
#include "lab/lab_store.hpp"
#include "lab/plan.hpp"
#include "lab/topology.hpp"
#include "net/netem.hpp"
#include "runtime/exec.hpp"
#include "runtime/state.hpp"
#include "runtime/sys/error.hpp"

namespace nrun::cli {
namespace fs = std::filesystem;
using nlohmann::json;
using sys::UsageError;

namespace {

lab::LabPaths paths_of(const Globals& g) { return lab::LabPaths{g.root}; }

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError("cannot read topology file '" + file.string() + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_file(const std::string& arg) {
  std::error_code ec;
  return fs::is_regular_file(arg, ec);
}

// NAME or FILE: a file is read for the lab's name only, so a lab whose file
// has since been broken can still be destroyed by it.
std::string lab_name_of(const std::string& arg) {
  if (!is_file(arg)) return arg;
  const json j = json::parse(read_text(arg), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    throw UsageError("'" + arg + "' is not a topology file with a \"name\"");
  return j["name"].get<std::string>();
}

// The plan of a file, or of a deployed lab as it was deployed.
lab::LabPlan plan_of(const Globals& g, const std::string& arg) {
  if (is_file(arg)) return lab::plan_lab(lab::parse_topology(read_text(arg), arg, fs::absolute(arg).parent_path()));
  const lab::LabRecord rec = lab::LabStore(g.root).get(arg);
  return lab::plan_lab(lab::parse_topology(rec.topology, "lab '" + rec.name + "'", fs::path(rec.file).parent_path()));
}

std::string netem_of(const lab::LabRecord& rec, const std::string& node, const std::string& ifname) {
  const auto it = rec.netem.find(node + ":" + ifname);
  return it == rec.netem.end() ? "" : it->second.str();
}

void print_table(const lab::LabRecord& rec, const std::vector<lab::NodeStatus>& nodes, std::ostream& out) {
  Table t({"NODE", "CONTAINER", "STATE", "PID", "INTERFACE", "ATTACHED TO", "ADDRESS", "MAC", "NETEM"});
  for (const auto& n : nodes) {
    const std::string pid = n.pid ? std::to_string(n.pid) : "-";
    if (n.interfaces.empty()) t.add({n.name, n.container, n.state, pid, "-", "-", "-", "-", "-"});
    bool first = true;
    for (const auto& i : n.interfaces) {
      const std::string netem = netem_of(rec, n.name, i.name);
      t.add({first ? n.name : "", first ? n.container : "", first ? n.state : "", first ? pid : "", i.name,
             i.network.empty() ? i.peer : i.network, i.address.empty() ? "-" : i.address, i.mac,
             netem.empty() ? "-" : netem});
      first = false;
    }
  }
  t.print(out);
}

json inspect_json(const lab::LabRecord& rec, const std::vector<lab::NodeStatus>& nodes) {
  json out = {{"Name", rec.name},   {"Status", lab::to_string(rec.status)},
              {"File", rec.file},   {"Created", rec.created},
              {"Error", rec.error}, {"Links", rec.links}};
  out["Networks"] = json::array();
  for (const auto& n : rec.lab_networks)
    out["Networks"].push_back({{"Name", n.name}, {"Network", n.network}, {"Bridge", n.network}, {"Subnet", n.subnet}});
  out["Nodes"] = json::array();
  for (const auto& n : nodes) {
    json ifs = json::array();
    for (const auto& i : n.interfaces)
      ifs.push_back({{"Name", i.name},
                     {"Network", i.network},
                     {"Peer", i.peer},
                     {"Address", i.address},
                     {"MacAddress", i.mac},
                     {"Netem", netem_of(rec, n.name, i.name)}});
    out["Nodes"].push_back({{"Name", n.name},
                            {"Container", n.container},
                            {"State", n.state},
                            {"Pid", n.pid},
                            {"Netns", n.pid ? std::string(lab::kNetnsDir) + "/" + n.container : ""},
                            {"Interfaces", ifs}});
  }
  return out;
}

void add_deploy(CLI::App& labs, Globals& g) {
  struct Opts {
    std::string file;
    bool reconfigure = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = labs.add_subcommand("deploy", "Bring up a lab from a topology file");
  cmd->add_option("FILE", o->file, "Topology file (JSON)")->required();
  cmd->add_flag("--reconfigure", o->reconfigure, "Destroy a deployed lab of the same name first");
  cmd->footer(
      "\nEverything in the file is checked before anything is created. Nodes become\n"
      "containers named LAB-NODE; their network namespaces are named the same under\n"
      "/run/netns (ip netns exec LAB-NODE ...). A failed step removes what was made.\n\n"
      "Example:\n  nrun lab deploy examples/labs/two-lans.json\n");
  cmd->callback([&g, o] {
    const std::string text = read_text(o->file);
    const lab::Topology t = lab::parse_topology(text, o->file, fs::absolute(o->file).parent_path());
    const lab::LabPlan plan = lab::plan_lab(t);
    lab::DeployOptions opts;
    opts.reconfigure = o->reconfigure;
    opts.file = o->file;
    opts.text = text;
    if (::isatty(STDERR_FILENO)) {
      // For people watching a big lab come up; scripts get only the table.
      auto step = std::make_shared<size_t>(0);
      opts.progress = [step, total = plan.steps.size()](const std::string& what) {
        std::cerr << "[" << ++*step << "/" << total << "] " << what << std::endl;
      };
    }
    const lab::LabPaths paths = paths_of(g);
    lab::deploy_lab(paths, plan, opts);
    const lab::LabRecord rec = lab::LabStore(g.root).get(plan.lab);
    print_table(rec, lab::lab_status(paths, rec), std::cout);
  });
}

void add_destroy(CLI::App& labs, Globals& g) {
  auto args = std::make_shared<std::vector<std::string>>();
  auto* cmd = labs.add_subcommand("destroy", "Remove everything a lab made");
  cmd->add_option("LAB", *args, "Lab name or topology file")->required();
  cmd->footer("\nExamples:\n  nrun lab destroy two-lans\n  nrun lab destroy examples/labs/two-lans.json\n");
  cmd->callback([&g, args] {
    for (const auto& a : *args) {
      const std::string name = lab_name_of(a);
      lab::destroy_lab(paths_of(g), name);
      std::cout << name << "\n";
    }
  });
}

void add_ls(CLI::App& labs, Globals& g) {
  auto format = std::make_shared<std::string>("table");
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = labs.add_subcommand("ls", "List deployed labs");
  cmd->alias("list");
  cmd->add_flag("-q,--quiet", *quiet, "Only print names");
  cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&g, format, quiet] {
    const lab::LabPaths paths = paths_of(g);
    const auto all = lab::LabStore(g.root).list();
    if (*quiet) {
      for (const auto& r : all) std::cout << r.name << "\n";
      return;
    }
    json out = json::array();
    Table t({"NAME", "STATUS", "NODES", "NETWORKS", "LINKS", "FILE"});
    for (const auto& r : all) {
      const auto nodes = lab::lab_status(paths, r);
      const auto running =
          std::count_if(nodes.begin(), nodes.end(), [](const auto& n) { return n.state == "running"; });
      if (*format == "json") {
        out.push_back({{"Name", r.name},
                       {"Status", lab::to_string(r.status)},
                       {"Nodes", nodes.size()},
                       {"Running", running},
                       {"Networks", r.lab_networks.size()},
                       {"Links", r.links.size()},
                       {"File", r.file}});
      } else {
        t.add({r.name, lab::to_string(r.status), std::to_string(running) + "/" + std::to_string(nodes.size()),
               std::to_string(r.lab_networks.size()), std::to_string(r.links.size()), r.file});
      }
    }
    if (*format == "json")
      std::cout << out.dump(2) << "\n";
    else
      t.print(std::cout);
  });
}

void add_inspect(CLI::App& labs, Globals& g) {
  auto name = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("table");
  auto* cmd = labs.add_subcommand("inspect", "Show a lab's nodes, their state, interfaces and addresses");
  cmd->add_option("LAB", *name, "Lab name")->required();
  cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([&g, name, format] {
    const lab::LabRecord rec = lab::LabStore(g.root).get(*name);
    const auto nodes = lab::lab_status(paths_of(g), rec);
    if (*format == "json")
      std::cout << inspect_json(rec, nodes).dump(2) << "\n";
    else
      print_table(rec, nodes, std::cout);
  });
}

void add_exec(CLI::App& labs, Globals& g) {
  auto spec = std::make_shared<runtime::ExecSpec>();
  auto* cmd = labs.add_subcommand("exec", "Run a command in a lab's node");
  cmd->prefix_command();  // options end at LAB
  cmd->add_flag("-i,--interactive", spec->interactive, "Keep stdin open and pass it to the command");
  cmd->add_flag("-t,--tty", spec->tty, "Give the command a terminal");
  cmd->add_flag("-d,--detach", spec->detach, "Run the command in the background");
  cmd->add_option("-e,--env", spec->env, "Set an environment variable KEY=VALUE (repeatable)")->allow_extra_args(false);
  cmd->add_option("-w,--workdir", spec->workdir, "Working directory inside the node");
  cmd->footer(
      "\nThe same as 'nrun exec LAB-NODE COMMAND...'.\n\nExamples:\n"
      "  nrun lab exec two-lans h1 ping -c1 10.10.2.10\n  nrun lab exec -it two-lans r1 sh\n");
  cmd->callback([&g, spec, cmd] {
    const auto words = cmd->remaining();
    if (!words.empty() && words[0].size() > 1 && words[0][0] == '-')
      throw UsageError("unknown flag '" + words[0] + "'");
    if (words.size() < 3) throw UsageError("lab exec needs a lab, a node and a command");
    const lab::LabRecord rec = lab::LabStore(g.root).get(words[0]);
    const auto n = std::find_if(rec.nodes.begin(), rec.nodes.end(), [&](const auto& x) { return x.name == words[1]; });
    if (n == rec.nodes.end()) throw UsageError("lab '" + rec.name + "' has no node '" + words[1] + "'");
    runtime::StateStore store(g.root);
    runtime::ExecSpec s = *spec;
    s.command.assign(words.begin() + 2, words.end());
    g.exit_code = runtime::exec_in_container(store, store.resolve(n->container), s);
  });
}

void add_netem(CLI::App& labs, Globals& g) {
  struct Opts {
    std::string lab, target;
    std::map<std::string, std::string> values;
    bool clear = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = labs.add_subcommand("netem", "Change the impairment of a node's interface while the lab runs");
  cmd->add_option("LAB", o->lab, "Lab name")->required();
  cmd->add_option("NODE:IFACE", o->target, "The interface, e.g. r1:eth5")->required();
  static const std::pair<const char*, const char*> kFlags[] = {
      {"delay", "Delay, e.g. 50ms"},
      {"jitter", "Delay variation, e.g. 5ms (needs --delay)"},
      {"loss", "Packet loss, e.g. 1%"},
      {"duplicate", "Duplicated packets, e.g. 0.5%"},
      {"reorder", "Packets sent ahead of the delayed rest, e.g. 25% (needs --delay)"},
      {"corrupt", "Packets with a flipped bit, e.g. 0.1%"},
      {"rate", "Rate limit, e.g. 10mbit (tbf under netem)"},
      {"limit", "Queue length in packets (default 1000)"}};
  for (const auto& [key, help] : kFlags) {
    const std::string k = key;
    cmd->add_option_function<std::string>(
        "--" + k, [o, k](const std::string& v) { o->values[k] = v; }, help);
  }
  cmd->add_flag("--clear", o->clear, "Remove the interface's impairment");
  cmd->footer(
      "\nThe flags given replace the interface's whole impairment (egress only: a\n"
      "link's other end keeps its own).\n\nExamples:\n"
      "  nrun lab netem two-lans r1:eth5 --delay 50ms --jitter 5ms --loss 1%\n"
      "  nrun lab netem two-lans r1:eth5 --rate 1mbit\n  nrun lab netem two-lans r1:eth5 --clear\n");
  cmd->callback([&g, o] {
    const size_t colon = o->target.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == o->target.size())
      throw UsageError("invalid interface '" + o->target + "': expected NODE:IFACE");
    if (o->clear && !o->values.empty()) throw UsageError("--clear cannot be combined with impairments");
    if (!o->clear && o->values.empty()) throw UsageError("give an impairment (--delay, --loss, ...) or --clear");
    net::NetemSpec spec;
    for (const auto& [k, v] : o->values) net::set_netem_field(spec, k, v, "--" + k);
    net::validate_netem(spec, "netem");
    lab::set_interface_netem(paths_of(g), o->lab, o->target.substr(0, colon), o->target.substr(colon + 1), spec);
  });
}

void add_graph(CLI::App& labs, Globals& g) {
  auto arg = std::make_shared<std::string>(), output = std::make_shared<std::string>();
  auto* cmd = labs.add_subcommand("graph", "Draw a lab: Graphviz DOT, or SVG with -o FILE.svg");
  cmd->add_option("LAB", *arg, "Lab name or topology file")->required();
  cmd->add_option("-o,--output", *output, "Write to FILE (.svg: an SVG picture; otherwise DOT)");
  cmd->footer(
      "\nExamples:\n  nrun lab graph examples/labs/triangle.json | dot -Tpng > lab.png\n"
      "  nrun lab graph two-lans -o lab.svg\n");
  cmd->callback([&g, arg, output] {
    const lab::LabPlan plan = plan_of(g, *arg);
    if (output->empty()) {
      std::cout << lab::lab_dot(plan);
      return;
    }
    const bool svg = output->size() > 4 && output->compare(output->size() - 4, 4, ".svg") == 0;
    std::ofstream out(*output, std::ios::binary | std::ios::trunc);
    if (!out) throw UsageError("cannot write '" + *output + "'");
    out << (svg ? lab::lab_svg(plan) : lab::lab_dot(plan));
    if (!out.flush()) throw sys::Error("write '" + *output + "' failed");
  });
}

}  // namespace

void add_lab_commands(CLI::App& app, Globals& g) {
  auto* labs = app.add_subcommand("lab", "Network labs: many containers on bridges and point-to-point links");
  labs->require_subcommand(1);
  labs->footer("\nRun 'nrun lab COMMAND --help' for more information on a command.\n");
  add_deploy(*labs, g);
  add_destroy(*labs, g);
  add_ls(*labs, g);
  add_inspect(*labs, g);
  add_exec(*labs, g);
  add_netem(*labs, g);
  add_graph(*labs, g);
}

}  // namespace nrun::cli
