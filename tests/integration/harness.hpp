// End-to-end test harness: runs the real nrun binary (NRUN_BINARY) the way a
// user does, each test against its own fresh --root, and checks afterwards
// that the test left nothing behind (no container record, no overlay mount).
//
// The tests need root and are meant to run inside the throwaway network and
// mount namespace that scripts/test.sh makes. The test process never changes
// namespace; it adds a mount or a link to its own namespaces only when
// in_throwaway_namespaces() says they are throwaway ones.
#pragma once
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#ifndef NRUN_BINARY
#error "NRUN_BINARY must be defined (path of the nrun executable)"
#endif
#ifndef NRUN_SOURCE_DIR
#error "NRUN_SOURCE_DIR must be defined (the repository)"
#endif

namespace nrun::it {

using namespace std::chrono_literals;
using Millis = std::chrono::milliseconds;

struct RunResult {
  int exit_code = -1;            // exit status, or 128 + signal when killed
  std::string out;               // stdout
  std::string err;               // stderr
  bool timed_out = false;        // killed by the harness after the timeout
  bool held_open = false;        // exited, but something it started kept stdout/stderr open
  std::string describe() const;  // for failure messages
};
std::ostream& operator<<(std::ostream& os, const RunResult& r);

// A started process whose stdin/stdout/stderr are pipes held by the test.
class Child {
 public:
  Child(const std::vector<std::string>& argv, std::string stdin_data = "");
  Child(Child&& o) noexcept;
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  ~Child();  // SIGKILLs (by pid) and reaps a child never waited for

  pid_t pid() const { return pid_; }
  // Feeds stdin, collects output until the process exits (and its pipes
  // close), or kills it (by pid) after `timeout`.
  RunResult wait(Millis timeout = 60s);

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string stdin_data_;
};

// Runs argv to completion (see Child::wait).
RunResult run_process(const std::vector<std::string>& argv, const std::string& stdin_data = "", Millis timeout = 60s);

// Polls pred every `interval` until it is true or `timeout` passes.
bool wait_until(const std::function<bool()>& pred, Millis timeout = 10s, Millis interval = 50ms);

// A process on the slave side of a new pty (forkpty), driven by the test.
class PtyProcess {
 public:
  explicit PtyProcess(const std::vector<std::string>& argv, unsigned short rows = 24, unsigned short cols = 80);
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;
  ~PtyProcess();  // SIGKILLs (by pid) and reaps a child still running

  pid_t pid() const { return pid_; }
  // Reads until the output after the previous match contains `needle` (then
  // moves past it) or `timeout` passes.
  bool expect(std::string_view needle, Millis timeout = 10s);
  // Like expect, with a std::regex (ECMAScript) searched in the unread output.
  bool expect_regex(const std::string& pattern, Millis timeout = 10s);
  void send(std::string_view keys);  // as typed at the keyboard
  void resize(unsigned short rows, unsigned short cols);
  // Waits for the process to exit (reading its output meanwhile); the exit
  // code, 128 + signal, or nullopt on timeout.
  std::optional<int> wait(Millis timeout = 10s);
  const std::string& output() const { return buf_; }  // everything read so far

 private:
  bool pump(Millis budget);  // reads what is available; false on EOF/EIO
  bool reap(bool block);
  pid_t pid_ = -1;
  int master_ = -1;
  bool eof_ = false;
  std::optional<int> status_;
  std::string buf_;
  size_t cursor_ = 0;
};

// Splits into lines (no trailing empty line); trims trailing '\r'.
std::vector<std::string> lines(const std::string& s);
std::string trim(const std::string& s);
bool is_hex_id(const std::string& s);  // 64 lowercase hex digits
std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& data, mode_t mode = 0644);
// True when the test process runs in namespaces made for the tests (so it
// may mount things and add links): NRUN_IT_THROWAWAY_NS is set, or its net
// and mount namespaces differ from PID 1's.
bool in_throwaway_namespaces();
// The host path of busybox-static, which test images are built from.
std::string busybox_path();

// Leak checks of the fault-injection and kill-point tests.
// Names of the links in the test's namespace.
std::set<std::string> link_names();
// nrun's table as nft prints it (sets and maps with their elements).
std::string nft_table();
// cgroup directories of container `id` (ROOT-independent: cgroups are the
// host's), at any of the first levels under each hierarchy.
std::vector<std::filesystem::path> cgroups_of(const std::string& id);

class NrunTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // NRUN_BINARY --root ROOT args...
  RunResult nrun(std::vector<std::string> args, std::string stdin_data = "", Millis timeout = 60s);
  // Starts NRUN_BINARY --root ROOT args... without waiting.
  Child nrun_async(std::vector<std::string> args, std::string stdin_data = "");
  // The argv nrun() would run, for PtyProcess.
  std::vector<std::string> nrun_argv(std::vector<std::string> args) const;

  // `run -d args...`: asserts success and a 64-hex id on stdout, returns it.
  std::string run_detached(std::vector<std::string> args);
  // `inspect ref` parsed; accepts an object or Docker's one-element array.
  // Null json when inspect fails.
  nlohmann::json inspect(const std::string& ref);
  std::string status_of(const std::string& ref);  // State.Status, "" on failure
  // Waits until State.Status is `status`.
  bool wait_for_status(const std::string& ref, const std::string& status, Millis timeout = 10s);
  // Ids of the container records on disk (ROOT/containers/*, dotfiles skipped).
  std::vector<std::string> record_ids() const;

  // Asserts an nrun failure of bad input: exit 125, a one-line error on
  // stderr (a CLI11 "See 'nrun --help'." hint may follow), nothing on stdout.
  void expect_usage_error(const RunResult& r, const std::string& what);

  // Builds a rootfs directory with busybox and its applet links in /bin,
  // plus `files` (path relative to the rootfs -> contents).
  std::filesystem::path make_rootfs(const std::string& dirname,
                                    const std::vector<std::pair<std::string, std::string>>& files = {});
  // Tars a directory (tar -C dir -c[z]f file .).
  std::filesystem::path make_tarball(const std::filesystem::path& dir, const std::string& filename, bool gzip = false);

  const std::filesystem::path& root() const { return root_; }

 private:
  // The leftover checks of TearDown; each failure is reported.
  void check_nothing_left();
  std::filesystem::path root_;
};

// A test that makes bridges, nft rules or /run/netns mounts: it runs only
// inside throwaway namespaces (scripts/test.sh) and is skipped elsewhere.
// nrun makes /run/netns a mount point of the namespace it runs in; when the
// test found none, TearDown removes it again.
class ThrowawayNsTest : public NrunTest {
 protected:
  void SetUp() override;
  void TearDown() override;
  // SetUp ran to the end: not skipped (IsSkipped() also turns true when a
  // test skips its last part after making things).
  bool active() const { return active_; }

 private:
  bool made_netns_dir_ = false;
  bool active_ = false;
};

}  // namespace nrun::it
