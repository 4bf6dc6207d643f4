#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

namespace nrun::it {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kNetnsDir = "/run/netns";  // where nrun names lab nodes' namespaces

[[noreturn]] void die(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// argv as the char* array execv wants; built before fork.
struct Argv {
  explicit Argv(const std::vector<std::string>& args) : args_(args) {
    for (auto& a : args_) ptrs_.push_back(a.data());
    ptrs_.push_back(nullptr);
  }
  char* const* get() { return ptrs_.data(); }
  const char* path() const { return args_.at(0).c_str(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> ptrs_;
};

// In a forked child, before execv: default signal handling, nothing of the
// test process's fds beyond 0-2.
void child_exec(Argv& argv) {
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::close_range(3, ~0U, 0);
  ::execvp(argv.path(), argv.get());
  const char msg[] = "harness: execvp failed\n";
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(127);
}

void set_nonblock(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl == -1 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) die("fcntl O_NONBLOCK");
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Reads what is available; false once the fd is at EOF (and closes it).
bool drain(int& fd, std::string& into) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      close_fd(fd);
      return false;
    }
    if (errno == EAGAIN) return true;
  }
}

Millis remaining(Clock::time_point deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

std::string ellipsize(const std::string& s, size_t max = 4000) {
  return s.size() <= max ? s : s.substr(0, max) + "...[" + std::to_string(s.size() - max) + " more bytes]";
}

bool same_ns(const char* kind) {
  struct stat self {
  }, init{};
  const std::string a = std::string("/proc/self/ns/") + kind, b = std::string("/proc/1/ns/") + kind;
  if (::stat(a.c_str(), &self) != 0 || ::stat(b.c_str(), &init) != 0) return true;  // unknown: assume host
  return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

// Can this process make the namespaces a container needs? Probed in a child,
// so the test process itself never changes namespace.
bool can_make_namespaces() {
  static const bool ok = [] {
    const pid_t pid = ::fork();
    if (pid == -1) return false;
    if (pid == 0)
      ::_exit(::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET) == 0 ? 0 : 1);
    int status = 0;
    while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  return ok;
}

std::string read_proc(pid_t pid, const char* what) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + what, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Processes other than this one whose mount table or command line mentions
// `needle` (a container's overlay upperdir, a monitor's --root).
std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const pid_t pid = std::stoi(name);
    if (pid == self) continue;
    if (read_proc(pid, "cmdline").find(needle) != std::string::npos ||
        read_proc(pid, "mountinfo").find(needle) != std::string::npos)
      found.push_back(pid);
  }
  return found;
}

// Mount points (field 5 of mountinfo, unescaped enough for our paths) of this
// process's mounts that mention `needle` anywhere in their line.
std::vector<std::pair<std::string, std::string>> own_mounts_mentioning(const std::string& needle) {
  std::vector<std::pair<std::string, std::string>> found;  // mount point, whole line
  std::ifstream f("/proc/self/mountinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.find(needle) == std::string::npos) continue;
    std::istringstream ls(line);
    std::string id, parent, devno, root, mountpoint;
    ls >> id >> parent >> devno >> root >> mountpoint;
    found.emplace_back(mountpoint, line);
  }
  return found;
}

}  // namespace

// ---------------------------------------------------------------- RunResult

std::string RunResult::describe() const {
  std::ostringstream os;
  os << "exit code " << exit_code;
  if (timed_out) os << " (killed after timeout)";
  if (held_open) os << " (stdout/stderr held open after exit)";
  os << "\n--- stdout ---\n" << ellipsize(out) << "\n--- stderr ---\n" << ellipsize(err) << "\n---";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const RunResult& r) { return os << r.describe(); }

// -------------------------------------------------------------------- Child

Child::Child(const std::vector<std::string>& argv, std::string stdin_data) : stdin_data_(std::move(stdin_data)) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) == -1) die("pipe2");
  if (::pipe2(out, O_CLOEXEC) == -1) die("pipe2");
  if (::pipe2(err, O_CLOEXEC) == -1) die("pipe2");
  Argv args(argv);
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ == -1) die("fork");
  if (pid_ == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    child_exec(args);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  set_nonblock(in_);
  set_nonblock(out_);
  set_nonblock(err_);
  if (stdin_data_.empty()) close_fd(in_);
}

Child::Child(Child&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      in_(std::exchange(o.in_, -1)),
      out_(std::exchange(o.out_, -1)),
      err_(std::exchange(o.err_, -1)),
      stdin_data_(std::move(o.stdin_data_)) {}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) == -1 && errno == EINTR) {
    }
  }
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
}

RunResult Child::wait(Millis timeout) {
  RunResult r;
  if (pid_ <= 0) {
    r.err = "harness: process already waited for";
    return r;
  }
  const auto deadline = Clock::now() + timeout;
  std::optional<Clock::time_point> exited_at;
  size_t written = 0;
  constexpr Millis kGrace = 2s;  // for pipes to close once the process exited

  for (;;) {
    if (pid_ > 0) {
      int status = 0;
      const pid_t w = ::waitpid(pid_, &status, WNOHANG);
      if (w == pid_) {
        r.exit_code = decode_status(status);
        pid_ = -1;
        exited_at = Clock::now();
        close_fd(in_);
      }
    }
    if (out_ < 0 && err_ < 0 && pid_ < 0) break;
    if (pid_ > 0 && Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) == -1 && errno == EINTR) {
      }
      r.exit_code = decode_status(status);
      r.timed_out = true;
      pid_ = -1;
      exited_at = Clock::now();
      close_fd(in_);
    }
    if (exited_at && Clock::now() - *exited_at >= kGrace) {
      r.held_open = out_ >= 0 || err_ >= 0;
      break;
    }

    pollfd fds[3];
    nfds_t n = 0;
    if (in_ >= 0) fds[n++] = {in_, POLLOUT, 0};
    if (out_ >= 0) fds[n++] = {out_, POLLIN, 0};
    if (err_ >= 0) fds[n++] = {err_, POLLIN, 0};
    ::poll(fds, n, 20);  // short: the exit is noticed by waitpid, not poll

    if (in_ >= 0) {
      const ssize_t w = ::write(in_, stdin_data_.data() + written, stdin_data_.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if ((w == -1 && errno != EAGAIN && errno != EINTR) || written == stdin_data_.size()) close_fd(in_);
    }
    if (out_ >= 0) drain(out_, r.out);
    if (err_ >= 0) drain(err_, r.err);
  }
  if (out_ >= 0) drain(out_, r.out);
  if (err_ >= 0) drain(err_, r.err);
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
  return r;
}

RunResult run_process(const std::vector<std::string>& argv, const std::string& stdin_data, Millis timeout) {
  return Child(argv, stdin_data).wait(timeout);
}

bool wait_until(const std::function<bool()>& pred, Millis timeout, Millis interval) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    ::usleep(static_cast<useconds_t>(std::min(interval, remaining(deadline) + 1ms).count() * 1000));
  }
}

// --------------------------------------------------------------- PtyProcess

PtyProcess::PtyProcess(const std::vector<std::string>& argv, unsigned short rows, unsigned short cols) {
  Argv args(argv);
  winsize ws{};
  ws.ws_row = rows;
  ws.ws_col = cols;
  std::fflush(nullptr);
  pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
  if (pid_ == -1) die("forkpty");
  if (pid_ == 0) child_exec(args);
  ::fcntl(master_, F_SETFD, FD_CLOEXEC);
  set_nonblock(master_);
}

PtyProcess::~PtyProcess() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  close_fd(master_);
}

bool PtyProcess::pump(Millis budget) {
  if (eof_) return false;
  pollfd p{master_, POLLIN, 0};
  ::poll(&p, 1, static_cast<int>(budget.count()));
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(master_, buf, sizeof buf);
    if (n > 0) {
      buf_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && errno == EAGAIN) return true;
    eof_ = true;  // EIO: every slave fd closed
    return false;
  }
}

bool PtyProcess::reap(bool block) {
  if (status_) return true;
  int status = 0;
  pid_t w;
  while ((w = ::waitpid(pid_, &status, block ? 0 : WNOHANG)) == -1 && errno == EINTR) {
  }
  if (w != pid_) return false;
  status_ = decode_status(status);
  return true;
}

bool PtyProcess::expect(std::string_view needle, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const size_t pos = buf_.find(needle, cursor_);
    if (pos != std::string::npos) {
      cursor_ = pos + needle.size();
      return true;
    }
    if (eof_ || Clock::now() >= deadline) return false;
    pump(std::min(Millis(100), remaining(deadline)));
  }
}

bool PtyProcess::expect_regex(const std::string& pattern, Millis timeout) {
  const std::regex re(pattern);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::smatch m;
    const std::string rest = buf_.substr(cursor_);
    if (std::regex_search(rest, m, re)) {
      cursor_ += static_cast<size_t>(m.position(0) + m.length(0));
      return true;
    }
    if (eof_ || Clock::now() >= deadline) return false;
    pump(std::min(Millis(100), remaining(deadline)));
  }
}

void PtyProcess::send(std::string_view keys) {
  while (!keys.empty()) {
    const ssize_t n = ::write(master_, keys.data(), keys.size());
    if (n > 0) {
      keys.remove_prefix(static_cast<size_t>(n));
    } else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
      pump(10ms);
    } else {
      die("write to pty");
    }
  }
}

void PtyProcess::resize(unsigned short rows, unsigned short cols) {
  winsize ws{};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (::ioctl(master_, TIOCSWINSZ, &ws) == -1) die("TIOCSWINSZ");
}

std::optional<int> PtyProcess::wait(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (reap(false)) {
      pump(0ms);  // what is still buffered
      return status_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    if (eof_)
      ::usleep(20'000);
    else
      pump(std::min(Millis(50), remaining(deadline)));
  }
}

// ------------------------------------------------------------------ helpers

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string line; std::getline(is, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool is_hex_id(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& data, mode_t mode) {
  fs::create_directories(p.parent_path());
  {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + p.string());
    f << data;
  }
  if (::chmod(p.c_str(), mode) == -1) die("chmod " + p.string());
}

bool in_throwaway_namespaces() {
  const char* env = std::getenv("NRUN_IT_THROWAWAY_NS");
  if (env && std::string(env) == "1") return true;
  return !same_ns("net") && !same_ns("mnt");
}

std::string busybox_path() {
  for (const char* p : {"/bin/busybox", "/usr/bin/busybox"})
    if (::access(p, X_OK) == 0) return p;
  return "/bin/busybox";
}

// ----------------------------------------------------------------- NrunTest

// Names of the links in the test's namespace.
std::set<std::string> link_names() {
  std::set<std::string> out;
  static const std::regex kLink("^[0-9]+: ([^:@ ]+)[@:]");
  for (const auto& l : lines(run_process({"ip", "-o", "link", "show"}).out)) {
    std::smatch m;
    if (std::regex_search(l, m, kLink)) out.insert(m[1]);
  }
  return out;
}

// nrun's table as nft prints it (sets and maps with their elements).
std::string nft_table() { return run_process({"nft", "list", "table", "inet", "nrun"}).out; }

// cgroup directories of container `id` (ROOT-independent: cgroups are the
// host's), at any of the first levels under each hierarchy.
std::vector<fs::path> cgroups_of(const std::string& id) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::recursive_directory_iterator it(h.path(), fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      if (it.depth() > 3) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory(ec) && it->path().filename() == id) out.push_back(it->path());
    }
  }
  return out;
}

void NrunTest::SetUp() {
  ::signal(SIGPIPE, SIG_IGN);  // a child may exit before reading its stdin
  if (::access(NRUN_BINARY, X_OK) != 0) GTEST_FAIL() << "no nrun binary at " << NRUN_BINARY;
  if (!can_make_namespaces()) GTEST_SKIP() << "cannot create namespaces here (needs root, real kernel)";

  const char* tag = std::getenv("NRUN_IT_TAG");  // set by scripts/test.sh
  std::string tmpl = "/tmp/nrun-it.";
  if (tag && *tag) tmpl += std::string(tag) + ".";
  tmpl += "XXXXXX";
  if (!::mkdtemp(tmpl.data())) die("mkdtemp " + tmpl);
  root_ = tmpl;
}

void NrunTest::TearDown() {
  if (root_.empty()) return;

  // Force-remove every container still in the root, as a user would.
  std::set<std::string> ids;
  const RunResult ps = nrun({"ps", "-a", "-q"});
  if (ps.exit_code == 0)
    for (const auto& l : lines(ps.out))
      if (!trim(l).empty()) ids.insert(trim(l));
  for (const auto& id : record_ids()) {
    bool listed = false;
    for (const auto& known : ids) listed |= id.rfind(known, 0) == 0;
    if (!listed) ids.insert(id);
  }
  if (!ids.empty()) {
    std::vector<std::string> args{"rm", "-f"};
    args.insert(args.end(), ids.begin(), ids.end());
    const RunResult rm = nrun(args);
    EXPECT_EQ(rm.exit_code, 0) << "teardown: nrun rm -f of the containers left:\n" << rm;
  }

  check_nothing_left();

  // Networks the test made (the default one included) go with the root:
  // their bridges live in the shared test namespace, not under the root.
  const RunResult nets = nrun({"network", "ls", "-q"});
  if (nets.exit_code == 0)
    for (const auto& n : lines(nets.out))
      if (!trim(n).empty()) {
        const RunResult rm = nrun({"network", "rm", trim(n)});
        EXPECT_EQ(rm.exit_code, 0) << "teardown: nrun network rm " << trim(n) << ":\n" << rm;
      }

  // Mounts under the root that should not exist (reported above) would keep
  // remove_all from finishing, or let it reach through a bind mount.
  auto mounts = own_mounts_mentioning(root_.string());
  std::reverse(mounts.begin(), mounts.end());
  for (const auto& [mp, line] : mounts)
    if (mp.rfind(root_.string(), 0) == 0) ::umount2(mp.c_str(), MNT_DETACH);
  std::error_code ec;
  fs::remove_all(root_, ec);
  EXPECT_FALSE(ec) << "teardown: cannot remove " << root_ << ": " << ec.message();
  root_.clear();
}

void NrunTest::check_nothing_left() {
  const std::string r = root_.string();

  // No container record.
  std::vector<std::string> left;
  wait_until([&] { return (left = record_ids()).empty(); }, 10s);
  for (const auto& id : left) ADD_FAILURE() << "teardown: container record left: " << (root_ / "containers" / id);
  // No name entry: removing a container frees its name.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "containers" / ".names", ec))
    ADD_FAILURE() << "teardown: container name entry left: " << e.path();

  // No IPAM lease: every container is gone, so is every address it held. A
  // lease is a file ROOT/networks/<net>.leases/<ip>; an old-style network
  // file kept them inside ("allocations").
  for (const auto& e : fs::directory_iterator(root_ / "networks", ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() > 7 && f.compare(f.size() - 7, 7, ".leases") == 0) {
      std::error_code ec2;
      for (const auto& l : fs::directory_iterator(e.path(), ec2))
        ADD_FAILURE() << "teardown: lease left: " << l.path() << ": " << read_file(l.path());
    } else if (f.size() > 5 && f.compare(f.size() - 5, 5, ".json") == 0) {
      const auto j = nlohmann::json::parse(read_file(e.path()), nullptr, false);
      if (j.is_object() && j.contains("allocations") && !j["allocations"].empty())
        ADD_FAILURE() << "teardown: leases left in " << e.path() << ": " << j["allocations"].dump();
    }
  }

  // No overlay (or any other) mount of the root in the test's namespace:
  // container mounts belong in the container's own mount namespace.
  for (const auto& [mp, line] : own_mounts_mentioning(r))
    ADD_FAILURE() << "teardown: mount left in the test's mount namespace: " << line;

  // No process left: no container (its mount table shows its overlay upper
  // dir under the root) and no monitor (its command line names the root).
  std::vector<pid_t> procs;
  wait_until([&] { return (procs = processes_mentioning(r)).empty(); }, 10s);
  for (const pid_t pid : procs) {
    std::string cmd = read_proc(pid, "cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    ADD_FAILURE() << "teardown: process " << pid << " left (killing it): " << cmd;
    ::kill(pid, SIGKILL);  // it refers to this test's private root: ours
  }
}

void ThrowawayNsTest::SetUp() {
  NrunTest::SetUp();
  if (IsSkipped()) return;
  if (!in_throwaway_namespaces())
    GTEST_SKIP() << "makes bridges, nft rules and /run/netns mounts: only inside throwaway namespaces";
  std::error_code ec;
  made_netns_dir_ = !fs::exists(kNetnsDir, ec);
  active_ = true;
}

void ThrowawayNsTest::TearDown() {
  if (active_ && made_netns_dir_) {
    while (::umount2(kNetnsDir, MNT_DETACH) == 0) {
    }
    std::error_code ec;
    fs::remove(kNetnsDir, ec);
  }
  NrunTest::TearDown();
}

std::vector<std::string> NrunTest::nrun_argv(std::vector<std::string> args) const {
  std::vector<std::string> argv{NRUN_BINARY, "--root", root_.string()};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  return argv;
}

RunResult NrunTest::nrun(std::vector<std::string> args, std::string stdin_data, Millis timeout) {
  std::string shown = "nrun";
  for (const auto& a : args) shown += " " + a;
  RunResult r = run_process(nrun_argv(std::move(args)), stdin_data, timeout);
  EXPECT_FALSE(r.timed_out) << shown << ": killed after " << timeout.count() << " ms";
  EXPECT_FALSE(r.held_open) << shown << ": exited, but a process it started still holds its stdout/stderr";
  return r;
}

Child NrunTest::nrun_async(std::vector<std::string> args, std::string stdin_data) {
  return Child(nrun_argv(std::move(args)), std::move(stdin_data));
}

std::string NrunTest::run_detached(std::vector<std::string> args) {
  args.insert(args.begin(), {"run", "-d"});
  const RunResult r = nrun(args);
  const std::string id = trim(r.out);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(is_hex_id(id)) << "run -d should print the 64-hex id:\n" << r;
  return id;
}

nlohmann::json NrunTest::inspect(const std::string& ref) {
  const RunResult r = nrun({"inspect", ref});
  if (r.exit_code != 0) return nullptr;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "inspect " << ref << " printed no JSON:\n" << r;
    return nullptr;
  }
  if (j.is_array()) return j.size() == 1 ? j[0] : nlohmann::json(nullptr);
  return j;
}

std::string NrunTest::status_of(const std::string& ref) {
  const auto j = inspect(ref);
  if (!j.is_object() || !j.contains("State") || !j["State"].contains("Status")) return "";
  return j["State"]["Status"].get<std::string>();
}

bool NrunTest::wait_for_status(const std::string& ref, const std::string& status, Millis timeout) {
  return wait_until([&] { return status_of(ref) == status; }, timeout, 100ms);
}

std::vector<std::string> NrunTest::record_ids() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "containers", ec)) {
    const std::string name = e.path().filename();
    if (!name.empty() && name[0] != '.' && e.is_directory()) ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void NrunTest::expect_usage_error(const RunResult& r, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(r.exit_code, 125) << r;
  EXPECT_EQ(r.out, "") << r;
  auto ls = lines(r.err);
  while (!ls.empty() && trim(ls.back()).empty()) ls.pop_back();
  // CLI11 parse errors end with a hint, as Docker's do.
  if (ls.size() == 2 && ls[1].rfind("See '", 0) == 0) ls.pop_back();
  EXPECT_EQ(ls.size(), 1u) << "want a one-line error:\n" << r;
  if (!ls.empty()) {
    EXPECT_FALSE(trim(ls[0]).empty()) << r;
  }
}

fs::path NrunTest::make_rootfs(const std::string& dirname,
                               const std::vector<std::pair<std::string, std::string>>& files) {
  const fs::path dir = root_ / dirname;
  for (const char* d : {"bin", "etc", "tmp", "proc", "sys", "dev", "root"}) fs::create_directories(dir / d);
  fs::permissions(dir / "tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::copy_file(busybox_path(), dir / "bin/busybox");
  const RunResult list = run_process({busybox_path(), "--list"});
  if (list.exit_code != 0) throw std::runtime_error("busybox --list failed: " + list.describe());
  for (const auto& applet : lines(list.out)) {
    std::error_code ec;
    if (!applet.empty() && applet != "busybox" && !fs::exists(dir / "bin" / applet, ec))
      fs::create_symlink("busybox", dir / "bin" / applet);
  }
  write_file(dir / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  write_file(dir / "etc/group", "root:x:0:\n");
  for (const auto& [path, contents] : files) write_file(dir / path, contents);
  return dir;
}

fs::path NrunTest::make_tarball(const fs::path& dir, const std::string& filename, bool gzip) {
  const fs::path file = root_ / filename;
  const RunResult r =
      run_process({"tar", "--numeric-owner", "-C", dir.string(), gzip ? "-czf" : "-cf", file.string(), "."});
  if (r.exit_code != 0) throw std::runtime_error("tar failed: " + r.describe());
  return file;
}

}  // namespace nrun::it
