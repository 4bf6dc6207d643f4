// `nrun commit` against a container that attacks it (issue 17, hole 2;
// CVE-2018-15664 class): a swapper inside the container exchanges a regular
// file and a symlink to a root-only host file (renameat2 RENAME_EXCHANGE)
// while commit copies, over many commits, paused and not. The committed
// images never hold the host file's content. And the pause itself: a
// running container stops for the copy and runs again after, also when the
// commit fails, and a container left frozen can still be removed.
//
// The swapper is tests/probe/commit_attacker.cpp (NRUN_COMMIT_ATTACKER), a
// static program bind-mounted read-only at /attacker.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "harness.hpp"
#include "runtime/sys/fd.hpp"

#ifndef NRUN_COMMIT_ATTACKER
#error "NRUN_COMMIT_ATTACKER must be defined (path of the static swapper)"
#endif

namespace nrun::it {
namespace {
namespace fs = std::filesystem;

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

class CommitSecurityTest : public NrunTest {
 protected:
  void SetUp() override {
    NrunTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    attacker_dir_ = root() / "attacker";
    fs::create_directories(attacker_dir_);
    fs::copy_file(NRUN_COMMIT_ATTACKER, attacker_dir_ / "commit_attacker");
    // The host file the attack is after: outside nrun's root, root-only,
    // unique, so a leftover of another run cannot mask a failure.
    std::random_device rd;
    const std::string tag = std::to_string(::getpid()) + "." + std::to_string(rd());
    host_dir_ = fs::path("/tmp") / ("nrun-it-commit-host." + tag);
    fs::create_directories(host_dir_);
    secret_ = "HOST-SECRET-" + tag;
    write_file(host_dir_ / "secret", secret_ + "\n", 0600);
  }
  void TearDown() override {
    NrunTest::TearDown();
    if (!host_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(host_dir_, ec);
    }
  }

  fs::path upper(const std::string& id) const { return root() / "containers" / id / "upper"; }
  // The container's v1 freezer cgroup, as its state records it.
  fs::path freezer_dir(const std::string& id) const {
    const auto j = nlohmann::json::parse(read_file(root() / "containers" / id / "state.json"));
    return j.at("cgroup").at("paths").at("freezer").get<std::string>();
  }
  std::string freezer_state(const std::string& id) const { return trim(read_file(freezer_dir(id) / "freezer.state")); }
  bool have_v1_freezer() const { return fs::exists("/sys/fs/cgroup/freezer/cgroup.procs"); }

  // The container's /count, written by its counter loop; -1 while torn.
  long counter(const std::string& id) const {
    const std::string s = trim(read_file(upper(id) / "count"));
    return s.empty() ? -1 : std::stol(s);
  }
  long settled_counter(const std::string& id) const {
    long v = -1;
    wait_until([&] { return (v = counter(id)) >= 0; }, 2s, 1ms);
    return v;
  }

  // A running container whose /data/f and /data/s the attacker swaps.
  std::string swapper() {
    const std::string id =
        run_detached({"--net", "none", "-v", attacker_dir_.string() + ":/attacker:ro", "busybox",
                      "/attacker/commit_attacker", "swap", "/data", (host_dir_ / "secret").string()});
    EXPECT_TRUE(wait_until([&] { return fs::exists(upper(id) / "data/ready"); })) << "the swapper did not start";
    return id;
  }

  // The top layer of image `name`, as the store records it.
  fs::path top_layer(const std::string& name) const {
    const auto j = nlohmann::json::parse(read_file(root() / "images" / name / "image.json"));
    return root() / "images" / "layers" / j.at("layers").back().get<std::string>();
  }
  // The regular files of `dir` that hold the secret.
  std::vector<std::string> leaks(const fs::path& dir) const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (!e.is_symlink() && e.is_regular_file() && contains(read_file(e.path()), secret_))
        out.push_back(e.path().string());
    return out;
  }

  // `rounds` commits of the swapping container; each layer checked for the
  // secret, the last image kept as `keep`. Returns how many layers caught
  // f as the symlink (proof that the swapper ran between commits' copies).
  int commit_rounds(const std::string& id, const std::string& pause_flag, int rounds, const std::string& keep) {
    int f_was_link = 0;
    for (int i = 0; i < rounds; ++i) {
      const std::string img = i + 1 == rounds ? keep : "round" + std::to_string(i);
      const auto r = nrun({"commit", pause_flag, id, img});
      EXPECT_EQ(r.exit_code, 0) << r;  // a reader that trips over the swap fails here, and goes on
      if (r.exit_code != 0) continue;
      const fs::path layer = top_layer(img);
      const auto found = leaks(layer);
      if (!found.empty()) {
        ADD_FAILURE() << pause_flag << " commit " << i << " copied the host file into " << found[0];
        return f_was_link;
      }
      EXPECT_TRUE(fs::exists(fs::symlink_status(layer / "data/f")));
      EXPECT_TRUE(fs::exists(fs::symlink_status(layer / "data/s")));
      f_was_link += fs::is_symlink(layer / "data/f");
      if (img != keep) {
        EXPECT_EQ(nrun({"image", "rm", img}).exit_code, 0);
      }
    }
    return f_was_link;
  }

  // What a container of `image` reads at /data, and what its export holds.
  // A paused commit is a snapshot: one of f and s is the file. An unpaused
  // one may see f before a swap and s after it: both links, or both files.
  void expect_image_clean(const std::string& image, bool snapshot) {
    SCOPED_TRACE(image);
    const auto r = nrun({"run", "--rm", "--net", "none", image, "sh", "-c", "cat /data/f /data/s 2>&1; true"});
    EXPECT_EQ(r.exit_code, 0) << r;
    if (snapshot) EXPECT_TRUE(contains(r.out, "container data")) << r;
    EXPECT_FALSE(contains(r.out, secret_)) << r;
    const fs::path tar = root() / (image + ".tar");
    ASSERT_EQ(nrun({"image", "export", image, tar.string()}).exit_code, 0);
    EXPECT_FALSE(contains(read_file(tar), secret_)) << "the export of " << image << " holds the host file";
  }

  fs::path attacker_dir_, host_dir_;
  std::string secret_;
};

TEST_F(CommitSecurityTest, SwapperRacingCommitNeverGetsTheHostFileIntoTheImage) {
  const std::string id = swapper();
  const int paused_links = commit_rounds(id, "--pause=true", 40, "paused-snap");
  const int live_links = commit_rounds(id, "--pause=false", 40, "live-snap");
  // The safe reader alone holds (--pause=false); the swapper really swapped.
  EXPECT_GT(paused_links + live_links, 0) << "f was never seen as the symlink: did the swapper run?";
  EXPECT_EQ(status_of(id), "running") << "the swapper keeps running through every commit";
  expect_image_clean("paused-snap", true);
  expect_image_clean("live-snap", false);
  EXPECT_EQ(read_file(host_dir_ / "secret"), secret_ + "\n") << "the host file is unchanged";
}

// A counter loop inside stops advancing while commit copies 100 MB and
// 5,000 files, and runs again once it is done.
TEST_F(CommitSecurityTest, CommitPausesARunningContainerAndResumesIt) {
  if (!have_v1_freezer()) GTEST_SKIP() << "no cgroup v1 freezer on this host";
  const std::string id = run_detached(
      {"--net", "none", "busybox", "sh", "-c",
       "dd if=/dev/urandom of=/big bs=1M count=100 2>/dev/null; mkdir /many; "
       "for i in $(seq 5000); do echo $i > /many/$i; done; "
       "i=0; while :; do i=$((i+1)); echo $i > /count; done"});
  ASSERT_TRUE(wait_until([&] { return fs::exists(upper(id) / "count"); }, 60s));
  EXPECT_EQ(freezer_state(id), "THAWED");

  Child commit = nrun_async({"commit", id, "paused"});
  ASSERT_TRUE(wait_until([&] { return freezer_state(id) == "FROZEN"; }, 20s, 1ms)) << "never paused";
  // Raw: frozen between its truncate and its write, /count stays empty.
  const std::string a = read_file(upper(id) / "count");
  std::this_thread::sleep_for(100ms);
  const std::string b = read_file(upper(id) / "count");
  const bool still_frozen = freezer_state(id) == "FROZEN";
  const RunResult r = commit.wait();
  ASSERT_EQ(r.exit_code, 0) << r;
  ASSERT_TRUE(still_frozen) << "the copy took less than 100 ms: nothing was measured";
  EXPECT_EQ(a, b) << "the counter ran on while the container was paused";

  EXPECT_EQ(freezer_state(id), "THAWED") << "resumed after the commit";
  const long c = settled_counter(id);
  EXPECT_TRUE(wait_until([&] { return settled_counter(id) > c; }, 5s)) << "the counter does not run again";
  EXPECT_EQ(status_of(id), "running");

  // --pause=false leaves it running through the copy.
  Child live = nrun_async({"commit", "--pause=false", id, "live"});
  bool ever_frozen = false;
  const long before = settled_counter(id);
  wait_until([&] { ever_frozen |= freezer_state(id) != "THAWED"; return ever_frozen; }, 300ms, 1ms);
  const long during = settled_counter(id);
  EXPECT_EQ(live.wait().exit_code, 0);
  EXPECT_FALSE(ever_frozen);
  EXPECT_GT(during, before);
}

// A commit refused up front never pauses; one that fails during the copy
// leaves the container running, and leaves no image or half-made layer.
TEST_F(CommitSecurityTest, AFailedCommitNeverLeavesTheContainerPaused) {
  if (!have_v1_freezer()) GTEST_SKIP() << "no cgroup v1 freezer on this host";
  // A directory chain deeper than the commit's fd limit allows: the copy
  // holds an fd per level, so it fails (EMFILE) in the middle of the tree.
  const std::string id = run_detached(
      {"--net", "none", "busybox", "sh", "-c",
       "d=/deep; for i in $(seq 300); do d=$d/a; done; mkdir -p $d; touch /ready; "
       "i=0; while :; do i=$((i+1)); echo $i > /count; done"});
  ASSERT_TRUE(wait_until([&] { return fs::exists(upper(id) / "ready") && fs::exists(upper(id) / "count"); }, 30s));

  ASSERT_EQ(nrun({"commit", id, "taken"}).exit_code, 0) << "a first commit (the fd limit not lowered) works";
  expect_usage_error(nrun({"commit", id, "taken"}), "image name taken");
  EXPECT_EQ(freezer_state(id), "THAWED");
  expect_usage_error(nrun({"commit", "--pause=maybe", id, "x"}), "bad --pause value");

  std::string cmd = "ulimit -n 128 && exec";
  for (const auto& a : nrun_argv({"commit", id, "failed"})) cmd += " '" + a + "'";
  const RunResult r = run_process({"sh", "-c", cmd});
  EXPECT_EQ(r.exit_code, 125) << r;
  EXPECT_TRUE(contains(r.err, "copy the container's files")) << r;
  EXPECT_EQ(freezer_state(id), "THAWED") << "a failure during the copy thaws";
  const long c = settled_counter(id);
  EXPECT_TRUE(wait_until([&] { return settled_counter(id) > c; }, 5s)) << "the container does not run on";
  EXPECT_FALSE(fs::exists(root() / "images" / "failed"));
  for (const auto& e : fs::directory_iterator(root() / "images" / "layers"))
    EXPECT_FALSE(e.path().filename().string().starts_with(".tmp-")) << "half-made layer left: " << e.path();
}

// A commit killed while the container is frozen (SIGKILL cannot be held
// back) leaves it frozen: stop and rm -f still end it at once (a frozen v1
// task does not even die of SIGKILL until thawed), cgroups and all.
TEST_F(CommitSecurityTest, AContainerLeftFrozenIsStillRemovedWhole) {
  if (!have_v1_freezer()) GTEST_SKIP() << "no cgroup v1 freezer on this host";
  const std::string id = run_detached({"--net", "none", "busybox", "sleep", "300"});
  const fs::path freezer = freezer_dir(id);
  nrun::sys::write_file((freezer / "freezer.state").string(), "FROZEN");  // what a killed commit leaves
  ASSERT_TRUE(wait_until([&] { return freezer_state(id) == "FROZEN"; }));
  const auto t0 = std::chrono::steady_clock::now();
  const auto rm = nrun({"rm", "-f", id});
  EXPECT_EQ(rm.exit_code, 0) << rm;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "rm -f waited for the frozen container";
  EXPECT_FALSE(fs::exists(freezer)) << "the freezer cgroup is left";
}

}  // namespace
}  // namespace nrun::it
