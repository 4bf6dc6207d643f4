// A lab whose record is torn or emptied (issue 18): `lab ls` still lists
// it (status corrupt, a warning), and `lab destroy` still removes what the
// lab made, found through the marks its nodes' and networks' files carry
// and the surviving lines of its .created file, with a warning; what is
// not the lab's (a container merely named like one of its nodes) stays.
// Afterwards no container, network, /run/netns name, link or nft element
// of the lab is left.
//
// Makes bridges and /run/netns mounts, so it runs only inside throwaway
// namespaces (scripts/test.sh), like lab_test.cpp.
#include <regex>

#include "harness.hpp"

namespace nrun::it {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kNetnsDir = "/run/netns";

std::vector<std::string> netns_names_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kNetnsDir, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().filename());
  return out;
}

// The lines of nrun's nft table that list elements of a set or map.
std::set<std::string> nft_elements() {
  std::set<std::string> out;
  for (const auto& l : lines(nft_table()))
    if (l.find("elements = ") != std::string::npos) out.insert(trim(l));
  return out;
}

class LabRecoveryTest : public ThrowawayNsTest {
 protected:
  // Deploys lab `name`: a network, two nodes on it and a link between them.
  void deploy(const std::string& name, const std::string& subnet) {
    const fs::path file = root() / (name + ".json");
    write_file(file, R"({"name": ")" + name + R"(", "networks": {"lan": {"subnet": ")" + subnet + R"("}},
      "nodes": {"a": {"networks": {"lan": {}}}, "b": {"networks": {"lan": {}}}},
      "links": [{"endpoints": ["a:eth1", "b:eth1"], "ips": ["10.98.0.1/30", "10.98.0.2/30"]}]})");
    const RunResult r = nrun({"lab", "deploy", file.string()}, "", 120s);
    ASSERT_EQ(r.exit_code, 0) << r;
  }

  // Destroys a lab whose record was damaged by `damage`, and checks that
  // nothing of it is left while the bystander container stays.
  void destroy_after(const std::string& lab, const std::string& subnet,
                     const std::function<void(const fs::path& record, const fs::path& created)>& damage) {
    SCOPED_TRACE("lab " + lab);
    const std::set<std::string> links_before = link_names();
    const std::set<std::string> nft_before = nft_elements();
    deploy(lab, subnet);
    if (HasFatalFailure()) return;
    // Named like a node of the lab, but not one: destroy must leave it.
    run_detached({"--name", lab + "-web", "--net", "none", "busybox", "sleep", "1d"});

    damage(root() / "labs" / (lab + ".json"), root() / "labs" / (lab + ".created"));

    const RunResult ls = nrun({"lab", "ls"});
    EXPECT_EQ(ls.exit_code, 0) << ls;
    EXPECT_TRUE(std::regex_search(ls.out, std::regex("(^|\n)" + lab + " +corrupt"))) << ls;
    EXPECT_NE(ls.err.find("corrupt lab file"), std::string::npos) << ls;
    const RunResult quiet = nrun({"lab", "ls", "-q"});
    EXPECT_EQ(quiet.exit_code, 0) << quiet;
    EXPECT_NE(quiet.out.find(lab), std::string::npos) << quiet;
    // A new deploy of the name is refused with a pointer to destroy.
    const RunResult again = nrun({"lab", "deploy", (root() / (lab + ".json")).string()});
    EXPECT_EQ(again.exit_code, 125) << again;
    EXPECT_NE(again.err.find("lab destroy " + lab), std::string::npos) << again;

    const RunResult d = nrun({"lab", "destroy", lab}, "", 60s);
    EXPECT_EQ(d.exit_code, 0) << d;
    EXPECT_NE(d.err.find("corrupt lab file"), std::string::npos) << "a warning says why: " << d;

    EXPECT_FALSE(fs::exists(root() / "labs" / (lab + ".json")));
    EXPECT_FALSE(fs::exists(root() / "labs" / (lab + ".created")));
    EXPECT_EQ(nrun({"lab", "ls", "-q"}).out, "");
    EXPECT_EQ(status_of(lab + "-a"), "");
    EXPECT_EQ(status_of(lab + "-b"), "");
    EXPECT_EQ(status_of(lab + "-web"), "running") << "not the lab's";
    for (const auto& n : lines(nrun({"network", "ls", "-q"}).out))
      EXPECT_NE(n.rfind(lab + "-", 0), 0u) << "network left: " << n;
    EXPECT_TRUE(netns_names_with_prefix(lab + "-").empty())
        << ::testing::PrintToString(netns_names_with_prefix(lab + "-"));
    EXPECT_EQ(nrun({"rm", "-f", lab + "-web"}).exit_code, 0);
    std::set<std::string> links;
    EXPECT_TRUE(wait_until([&] { return (links = link_names()) == links_before; }, 10s))
        << "links now: " << ::testing::PrintToString(links) << "\nbefore: " << ::testing::PrintToString(links_before);
    // The table stays (made once); the lab's elements go. Other tests may
    // have left theirs in this shared namespace: compare with before.
    EXPECT_EQ(nft_elements(), nft_before) << nft_table();
  }
};

TEST_F(LabRecoveryTest, DestroyOfATornRecord) {
  destroy_after("torn", "10.84.0.0/24", [](const fs::path& record, const fs::path&) {
    const std::string text = read_file(record);
    write_file(record, text.substr(0, text.size() / 2));
  });
}

TEST_F(LabRecoveryTest, DestroyOfAnEmptiedRecordAndTornCreatedLines) {
  destroy_after("empty", "10.85.0.0/24", [](const fs::path& record, const fs::path& created) {
    write_file(record, "");
    // As a deploy killed mid-append leaves them: the last line cut.
    write_file(created, "network empty-lan\ncontainer empty-a\ncontai");
  });
}

TEST_F(LabRecoveryTest, DestroyOfARecordNamingAnotherLab) {
  destroy_after("other", "10.86.0.0/24", [](const fs::path& record, const fs::path&) {
    json j = json::parse(read_file(record));
    j["name"] = "someone-else";
    write_file(record, j.dump());
  });
}

}  // namespace
}  // namespace nrun::it
