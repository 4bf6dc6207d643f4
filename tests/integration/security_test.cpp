// Container hardening, proven by attacks: a hostile image (symlinks where
// nrun mounts or writes), fd and workdir tricks, capabilities, no_new_privs,
// seccomp, devices, mount propagation, masked paths, sysctls and users. Each
// test attacks, then checks the host (the test's namespaces) afterwards.
//
// Facts from inside come from tests/probe (NRUN_PROBE), a static program
// bind-mounted read-only at /probe.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "harness.hpp"

#ifndef NRUN_PROBE
#error "NRUN_PROBE must be defined (path of the static probe)"
#endif

namespace nrun::it {
namespace {
namespace fs = std::filesystem;

constexpr const char* kDefaultCaps = "00000000a80425fb";  // Docker's default set

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// "name value" lines -> map; later lines win.
std::map<std::string, std::string> facts(const std::string& out) {
  std::map<std::string, std::string> m;
  for (const auto& l : lines(out)) {
    std::istringstream ls(l);
    std::string k, v;
    ls >> k;
    std::getline(ls, v);
    m[k.back() == ':' ? k.substr(0, k.size() - 1) : k] = trim(v);
  }
  return m;
}

class SecurityTest : public NrunTest {
 protected:
  void SetUp() override {
    NrunTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    probe_dir_ = root() / "probe";
    fs::create_directories(probe_dir_);
    fs::copy_file(NRUN_PROBE, probe_dir_ / "probe");
    // A directory of the "host" outside nrun's root: what an escape would
    // reach. Unique, so a leftover from another run cannot mask a failure.
    std::random_device rd;
    host_dir_ = fs::path("/tmp") / ("nrun-it-host." + std::to_string(::getpid()) + "." + std::to_string(rd()));
    fs::create_directories(host_dir_);
    write_file(host_dir_ / "victim", "host data\n");
  }
  void TearDown() override {
    NrunTest::TearDown();
    if (!host_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(host_dir_, ec);
    }
  }

  // `run --rm --net none -v probe:/probe:ro ARGS...`
  RunResult run(std::vector<std::string> args) {
    std::vector<std::string> full{"run", "--rm", "--net", "none", "-v", probe_dir_.string() + ":/probe:ro"};
    full.insert(full.end(), args.begin(), args.end());
    return nrun(full);
  }
  // A container running `sleep`, for exec.
  std::string sleeper(std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"--net", "none", "-v", probe_dir_.string() + ":/probe:ro"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "sleep", "300"});
    return run_detached(args);
  }

  // The files of the host directory (what must stay as it was).
  std::set<std::string> host_files() const {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(host_dir_)) out.insert(e.path().lexically_relative(host_dir_));
    return out;
  }
  void expect_host_untouched() {
    EXPECT_EQ(host_files(), std::set<std::string>{"victim"});
    EXPECT_EQ(read_file(host_dir_ / "victim"), "host data\n");
    for (const auto& l : lines(read_file("/proc/self/mountinfo")))
      EXPECT_FALSE(contains(l, host_dir_.string())) << "mount on the host dir: " << l;
  }

  // An image made from busybox with `edit` applied to its rootfs dir.
  void make_image(const std::string& name, const std::function<void(const fs::path&)>& edit) {
    const fs::path dir = make_rootfs(name + "-rootfs");
    edit(dir);
    const auto tar = make_tarball(dir, name + ".tar");
    const auto r = nrun({"image", "import", tar.string(), name});
    ASSERT_EQ(r.exit_code, 0) << r;
  }
  // A symlink target that climbs out of any root into host_dir_, as a
  // string join rootfs + target would follow it.
  std::string climbing(const std::string& rest = "") const {
    return "/../../../../../../../.." + host_dir_.string() + rest;
  }

  fs::path probe_dir_, host_dir_;
};

// ------------------------------------------------------ hostile images

TEST_F(SecurityTest, VolumeTargetThroughAClimbingSymlinkStaysInside) {
  make_image("evil-mnt", [&](const fs::path& dir) {
    fs::create_symlink(climbing(), dir / "mnt");
    fs::create_directories(dir / host_dir_.relative_path());  // where it resolves inside the root
  });
  const fs::path src = root() / "src";
  write_file(src / "marker", "from the volume\n");
  const auto r = nrun({"run", "--rm", "--net", "none", "-v", src.string() + ":/mnt/x", "evil-mnt", "sh", "-c",
                       "cat /mnt/x/marker; ls " + host_dir_.string()});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "from the volume\nx\n") << r;  // mounted on the image's own copy of the path
  expect_host_untouched();

  // Without that copy the target does not exist inside: made there, or a
  // clean failure; never on the host.
  make_image("evil-mnt2", [&](const fs::path& dir) { fs::create_symlink(climbing("/deeper"), dir / "mnt"); });
  const auto r2 = nrun({"run", "--rm", "--net", "none", "-v", src.string() + ":/mnt/x", "evil-mnt2", "cat",
                        "/mnt/x/marker"});
  EXPECT_TRUE(r2.exit_code == 0 || r2.exit_code == 125) << r2;
  expect_host_untouched();
}

TEST_F(SecurityTest, SymlinkedProcSysOrDevIsRefused) {
  for (const std::string d : {"proc", "sys", "dev"}) {
    SCOPED_TRACE(d);
    const std::string image = "evil-" + d;
    make_image(image, [&](const fs::path& dir) {
      fs::remove_all(dir / d);
      fs::create_symlink(climbing(), dir / d);
    });
    const auto r = nrun({"run", "--rm", "--net", "none", image, "true"});
    EXPECT_EQ(r.exit_code, 125) << r;
    EXPECT_TRUE(contains(r.err, "'/" + d + "' in the image is a symlink")) << r;
    EXPECT_TRUE(record_ids().empty());
    expect_host_untouched();
  }
  // A relative symlink that stays inside is refused as well: /proc must be
  // the kernel's, at /proc.
  make_image("evil-proc-rel", [&](const fs::path& dir) {
    fs::remove_all(dir / "proc");
    fs::create_directories(dir / "fakeproc");
    fs::create_symlink("fakeproc", dir / "proc");
  });
  EXPECT_EQ(nrun({"run", "--rm", "--net", "none", "evil-proc-rel", "true"}).exit_code, 125);
}

TEST_F(SecurityTest, GeneratedEtcFilesThroughSymlinksStayInside) {
  // The network module bind-mounts /etc/hosts and /etc/resolv.conf; the
  // image points both at a host file.
  write_file(host_dir_ / "hosts", "host hosts\n");
  write_file(host_dir_ / "resolv.conf", "nameserver 192.0.2.1\n");
  make_image("evil-etc", [&](const fs::path& dir) {
    fs::remove(dir / "etc/hosts");
    fs::create_symlink(climbing("/hosts"), dir / "etc/hosts");
    fs::create_symlink(climbing("/resolv.conf"), dir / "etc/resolv.conf");
  });
  const auto r = nrun({"run", "--rm", "--name", "etc", "evil-etc", "sh", "-c",
                       "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo overwrite > /etc/hosts"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.out, "localhost")) << r;  // nrun's file, not the host's
  EXPECT_FALSE(contains(r.out, "host hosts")) << r;
  EXPECT_EQ(read_file(host_dir_ / "hosts"), "host hosts\n");
  EXPECT_EQ(read_file(host_dir_ / "resolv.conf"), "nameserver 192.0.2.1\n");
  for (const auto& l : lines(read_file("/proc/self/mountinfo"))) EXPECT_FALSE(contains(l, host_dir_.string())) << l;
}

TEST_F(SecurityTest, HostileUserDatabaseCannotHangInit) {
  // /etc/passwd as a FIFO (a read would block forever) or a link to an
  // endless device: read as missing.
  make_image("evil-passwd", [&](const fs::path& dir) {
    fs::remove(dir / "etc/passwd");
    ASSERT_EQ(::mkfifo((dir / "etc/passwd").c_str(), 0644), 0);
    fs::remove(dir / "etc/group");
    fs::create_symlink("/dev/zero", dir / "etc/group");
  });
  const auto r = nrun({"run", "--rm", "--net", "none", "-v", probe_dir_.string() + ":/probe:ro", "evil-passwd",
                       "/probe/probe", "status"},
                      "", 30s);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(facts(r.out)["Uid"], "0\t0\t0\t0") << r;
  const auto named = nrun({"run", "--rm", "--net", "none", "-u", "nobody", "evil-passwd", "true"}, "", 30s);
  EXPECT_EQ(named.exit_code, 125) << named;
}

// ------------------------------------------------- fds and the workdir

TEST_F(SecurityTest, OnlyStdioReachesTheCommand) {
  EXPECT_EQ(run({"busybox", "/probe/probe", "fds"}).out, "fds 0 1 2\n");
  const std::string id = sleeper();
  const auto e = nrun({"exec", id, "/probe/probe", "fds"});
  EXPECT_EQ(e.exit_code, 0) << e;
  EXPECT_EQ(e.out, "fds 0 1 2\n") << e;
  const auto i = nrun({"exec", "-i", id, "/probe/probe", "fds"}, "input");
  EXPECT_EQ(i.out, "fds 0 1 2\n") << i;
  // Detached: the log shows what the command had.
  const std::string d = run_detached({"--net", "none", "-v", probe_dir_.string() + ":/probe:ro", "busybox",
                                      "/probe/probe", "fds"});
  ASSERT_TRUE(wait_for_status(d, "exited", 15s));
  EXPECT_EQ(nrun({"logs", d}).out, "fds 0 1 2\n");
}

TEST_F(SecurityTest, WorkdirThroughProcSelfFdNeverLeavesTheRoot) {
  // CVE-2024-21626: a leaked fd of a host directory plus -w /proc/self/fd/N.
  const std::string id = sleeper();
  for (int n = 3; n <= 64; ++n) {
    const std::string w = "/proc/self/fd/" + std::to_string(n);
    SCOPED_TRACE(w);
    const auto r = run({"-w", w, "busybox", "/probe/probe", "cwd"});
    EXPECT_EQ(r.exit_code, 125) << r;
    EXPECT_FALSE(contains(r.out, "unreachable")) << r;
    const auto e = nrun({"exec", "-w", w, id, "/probe/probe", "cwd"});
    EXPECT_EQ(e.exit_code, 125) << e;
    EXPECT_FALSE(contains(e.out, "unreachable")) << e;
  }
  // A symlink in the container pointing at a magic link: the same.
  const auto link = nrun({"exec", id, "ln", "-s", "/proc/self/cwd", "/tmp/here"});
  ASSERT_EQ(link.exit_code, 0) << link;
  EXPECT_EQ(nrun({"exec", "-w", "/tmp/here", id, "true"}).exit_code, 125);
  // An ordinary workdir still works, symlinks resolved inside the root.
  const auto ok = nrun({"exec", "-w", "/tmp", id, "/probe/probe", "cwd"});
  EXPECT_EQ(ok.out, "cwd /tmp\n") << ok;
}

// --------------------------------------------------------- capabilities

TEST_F(SecurityTest, CapabilitiesAsDocker) {
  auto status = [&](std::vector<std::string> flags) {
    flags.insert(flags.end(), {"busybox", "/probe/probe", "status"});
    const auto r = run(flags);
    EXPECT_EQ(r.exit_code, 0) << r;
    return facts(r.out);
  };
  const auto def = status({});
  EXPECT_EQ(def.at("CapEff"), kDefaultCaps);
  EXPECT_EQ(def.at("CapPrm"), kDefaultCaps);
  EXPECT_EQ(def.at("CapBnd"), kDefaultCaps);
  EXPECT_EQ(def.at("CapInh"), "0000000000000000");
  EXPECT_EQ(def.at("CapAmb"), "0000000000000000");

  const auto none = status({"--cap-drop", "ALL"});
  EXPECT_EQ(none.at("CapEff"), "0000000000000000");
  EXPECT_EQ(none.at("CapBnd"), "0000000000000000");

  const auto net_admin = status({"--cap-add", "NET_ADMIN", "--cap-drop", "CAP_CHOWN"});
  EXPECT_EQ(net_admin.at("CapEff"), "00000000a80435fa");  // + bit 12, - bit 0

  // --privileged: everything nrun itself may hold.
  std::string own;
  for (const auto& l : lines(read_file("/proc/self/status")))
    if (l.rfind("CapBnd:", 0) == 0) own = trim(l.substr(7));
  const auto priv = status({"--privileged"});
  EXPECT_EQ(priv.at("CapEff"), own);
  EXPECT_EQ(priv.at("CapBnd"), own);
  EXPECT_EQ(priv.at("Seccomp"), "0");

  // A non-root user: nothing effective, the bounding set still Docker's.
  const auto user = status({"-u", "1000:1000"});
  EXPECT_EQ(user.at("CapEff"), "0000000000000000");
  EXPECT_EQ(user.at("CapBnd"), kDefaultCaps);

  expect_usage_error(run({"--cap-add", "NET_ADMINS", "busybox", "true"}), "unknown capability");
  EXPECT_TRUE(record_ids().empty());
}

TEST_F(SecurityTest, ExecGetsTheContainersSettings) {
  const std::string id = sleeper({"--cap-drop", "ALL", "--cap-add", "KILL"});
  const auto e = nrun({"exec", id, "/probe/probe", "status"});
  ASSERT_EQ(e.exit_code, 0) << e;
  const auto f = facts(e.out);
  EXPECT_EQ(f.at("CapEff"), "0000000000000020");
  EXPECT_EQ(f.at("CapBnd"), "0000000000000020");
  EXPECT_EQ(f.at("NoNewPrivs"), "1");
  EXPECT_EQ(f.at("Seccomp"), "2");
  const auto s = facts(nrun({"exec", id, "/probe/probe", "syscalls"}).out);
  EXPECT_EQ(s.at("keyctl"), "1");
  EXPECT_EQ(s.at("unshare_user"), "1");
}

TEST_F(SecurityTest, NoNewPrivileges) {
  EXPECT_EQ(facts(run({"busybox", "/probe/probe", "status"}).out).at("NoNewPrivs"), "1");
  // Without no_new_privs the filter goes in before the user switch, while
  // CAP_SYS_ADMIN is still held; it is there all the same.
  const auto off = facts(run({"--security-opt", "no-new-privileges=false", "-u", "1000", "busybox", "/probe/probe",
                              "status"})
                             .out);
  EXPECT_EQ(off.at("NoNewPrivs"), "0");
  EXPECT_EQ(off.at("Seccomp"), "2");
  EXPECT_EQ(off.at("Uid"), "1000\t1000\t1000\t1000");
  EXPECT_EQ(facts(run({"--security-opt", "no-new-privileges", "busybox", "/probe/probe", "status"}).out)
                .at("NoNewPrivs"),
            "1");
  expect_usage_error(run({"--security-opt", "no-new-privileges=maybe", "busybox", "true"}), "bad value");
  expect_usage_error(run({"--security-opt", "apparmor=unconfined", "busybox", "true"}), "unsupported");
}

// --------------------------------------------------------------- seccomp

TEST_F(SecurityTest, DefaultSeccompRefusesTheDenyList) {
  const auto r = run({"busybox", "/probe/probe", "syscalls"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto s = facts(r.out);
  for (const char* call : {"keyctl", "add_key", "request_key", "unshare_user", "mount", "umount2", "pivot_root",
                           "userfaultfd", "io_uring_setup", "perf_event_open", "bpf", "kexec_load",
                           "open_by_handle_at", "personality_no_randomize", "personality_odd", "clock_settime"})
    EXPECT_EQ(s.at(call), "1") << call << "\n" << r;  // EPERM
  EXPECT_EQ(s.at("clone3"), "38") << r;                // ENOSYS: glibc falls back to clone
  EXPECT_EQ(s.at("pthread"), "0") << r;                // so threads still work
  EXPECT_EQ(s.at("fork"), "0") << r;
  EXPECT_EQ(s.at("personality_query"), "0") << r;
  // As a user types it, with busybox.
  const auto u = run({"busybox", "unshare", "-U", "true"});
  EXPECT_NE(u.exit_code, 0) << u;
  EXPECT_TRUE(contains(u.err, "Operation not permitted")) << u;
  const auto m = run({"busybox", "mount", "-t", "tmpfs", "x", "/mnt"});
  EXPECT_NE(m.exit_code, 0) << m;
}

TEST_F(SecurityTest, UnconfinedAllowsWhatCapabilitiesAllow) {
  const auto r = run({"--security-opt", "seccomp=unconfined", "busybox", "/probe/probe", "syscalls"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto s = facts(r.out);
  EXPECT_EQ(s.at("keyctl"), "0") << r;
  EXPECT_EQ(s.at("unshare_user"), "0") << r;  // the kernel lets root in a container make one
  EXPECT_EQ(s.at("mount"), "1") << r;         // still no CAP_SYS_ADMIN
  EXPECT_NE(s.at("clone3"), "38") << r;
  EXPECT_EQ(facts(run({"--security-opt", "seccomp=unconfined", "busybox", "/probe/probe", "status"}).out)
                .at("Seccomp"),
            "0");
}

TEST_F(SecurityTest, DockerFormatProfileFile) {
  const fs::path profile = root() / "profile.json";
  write_file(profile, R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["some_future_call"], "action": "SCMP_ACT_ERRNO"}
    ]})");
  const auto r = run({"--security-opt", "seccomp=" + profile.string(), "busybox", "sh", "-c",
                      "mkdir /tmp/x; /probe/probe syscalls"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(contains(r.err, "Permission denied")) << r;  // errnoRet 13
  EXPECT_EQ(facts(r.out).at("keyctl"), "0") << r;          // the profile replaces nrun's default
  // The profile is kept with the container: exec gets it even once the file is gone.
  const std::string id = sleeper({"--security-opt", "seccomp=" + profile.string()});
  fs::remove(profile);
  const auto e = nrun({"exec", id, "mkdir", "/tmp/y"});
  EXPECT_NE(e.exit_code, 0) << e;
  EXPECT_TRUE(contains(e.err, "Permission denied")) << e;

  write_file(root() / "bad.json", R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOPE"}]})");
  expect_usage_error(run({"--security-opt", "seccomp=" + (root() / "bad.json").string(), "busybox", "true"}),
                     "bad profile");
  expect_usage_error(run({"--security-opt", "seccomp=" + (root() / "missing.json").string(), "busybox", "true"}),
                     "missing profile");
}

// ------------------------------------------------------------- devices

TEST_F(SecurityTest, OnlyTheDefaultDeviceNodes) {
  const auto r = run({"busybox", "ls", "/dev"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::set<std::string> got;
  for (const auto& l : lines(r.out)) got.insert(trim(l));
  EXPECT_EQ(got, (std::set<std::string>{"fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr",
                                        "stdin", "stdout", "tty", "urandom", "zero"}))
      << r;
}

TEST_F(SecurityTest, MknodOfTheHostsDiskCannotBeRead) {
  // A block device of the host, by its numbers.
  std::string majmin;
  for (const auto& e : fs::directory_iterator("/sys/dev/block")) {
    majmin = e.path().filename();
    break;
  }
  if (majmin.empty()) GTEST_SKIP() << "no block device on this host";
  const std::string major = majmin.substr(0, majmin.find(':')), minor = majmin.substr(majmin.find(':') + 1);
  if (!fs::exists("/sys/fs/cgroup/devices") && !fs::exists("/sys/fs/cgroup/cgroup.controllers"))
    GTEST_SKIP() << "no device cgroup here";
  const auto r = run({"busybox", "/probe/probe", "mknod-read", "/tmp/disk", major, minor});
  ASSERT_EQ(r.exit_code, 0) << r;
  const auto f = facts(r.out);
  EXPECT_EQ(f.at("mknod"), "0") << r;  // allowed, as Docker ('m' for every device)
  EXPECT_EQ(f.at("open"), "1") << r;   // the device cgroup: EPERM
  EXPECT_EQ(f.count("read"), 0u) << r;
  // And an exec'd process (it joins the same cgroup).
  const std::string id = sleeper();
  const auto e = facts(nrun({"exec", id, "/probe/probe", "mknod-read", "/tmp/disk2", major, minor}).out);
  EXPECT_EQ(e.at("open"), "1");
  // --privileged: every device.
  const auto p = run({"--privileged", "busybox", "/probe/probe", "mknod-read", "/tmp/disk", major, minor});
  EXPECT_EQ(facts(p.out).at("read"), "0") << p;
}

// ---------------------------------------------------- mount propagation

TEST_F(SecurityTest, AMountInsideNeverAppearsOnTheHost) {
  const std::string tag = "nrun-secret-" + std::to_string(::getpid());
  for (const std::vector<std::string> flags : {std::vector<std::string>{"--privileged"},
                                               std::vector<std::string>{"--cap-add", "SYS_ADMIN"}}) {
    SCOPED_TRACE(flags[0]);
    std::vector<std::string> args{"--net", "none", "-v", host_dir_.string() + ":/v"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "sh", "-c",
                             "mount -t tmpfs " + tag + " /v && touch /v/inside && mount -t tmpfs " + tag +
                                 " /tmp && echo mounted && sleep 300"});
    const std::string id = run_detached(args);
    ASSERT_TRUE(wait_until([&] { return contains(nrun({"logs", id}).out, "mounted"); }, 15s)) << nrun({"logs", id});
    const auto inside = nrun({"exec", id, "grep", "-c", tag, "/proc/self/mountinfo"});
    EXPECT_EQ(inside.out, "2\n") << inside;
    EXPECT_FALSE(contains(read_file("/proc/self/mountinfo"), tag));
    EXPECT_FALSE(fs::exists(host_dir_ / "inside"));
    EXPECT_EQ(nrun({"rm", "-f", id}).exit_code, 0);
  }
  expect_host_untouched();
}

// ------------------------------------------------ masked and read-only

TEST_F(SecurityTest, MaskedPathsAreEmptyAndReadOnlyPathsStayReadOnly) {
  // Only what this kernel has (no /proc/kcore without CONFIG_PROC_KCORE).
  std::string masked, read_only;
  for (const char* p : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"})
    if (fs::exists(p)) masked += std::string(" ") + p;
  for (const char* p : {"/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches", "/proc/irq"})
    if (fs::exists(p)) read_only += std::string(" ") + p;
  ASSERT_FALSE(masked.empty());
  ASSERT_FALSE(read_only.empty());
  const auto r = run({"busybox", "sh", "-c",
                      "for f in" + masked + "; do printf '%s ' $f; wc -c < $f; done; ls /sys/firmware | wc -l"});
  EXPECT_EQ(r.exit_code, 0) << r;
  for (const auto& l : lines(r.out)) EXPECT_TRUE(l.size() >= 2 && l.substr(l.size() - 2) == " 0" || l == "0") << l;
  EXPECT_EQ(lines(r.out).back(), "0") << r;  // /sys/firmware empty
  std::istringstream paths(read_only);
  for (std::string path; paths >> path;) {
    const auto w = run({"busybox", "/probe/probe", "open", path == "/proc/irq" ? "/proc/irq/default_smp_affinity" : path, "w"});
    EXPECT_EQ(facts(w.out).at("open"), "30") << path << "\n" << w;  // EROFS
  }
  const auto remount = run({"busybox", "mount", "-o", "remount,rw", "/proc/sys"});
  EXPECT_NE(remount.exit_code, 0) << remount;
  const auto umount = run({"busybox", "umount", "/proc/keys"});
  EXPECT_NE(umount.exit_code, 0) << umount;
  // --privileged: no masks, /proc/sys writable.
  const auto p = run({"--privileged", "busybox", "sh", "-c", "grep -c ' /proc/keys ' /proc/self/mountinfo"});
  EXPECT_EQ(p.out, "0\n") << p;
  const auto pw = run({"--privileged", "busybox", "/probe/probe", "open", "/proc/sys/kernel/hostname", "w"});
  EXPECT_EQ(facts(pw.out).at("open"), "0") << pw;
}

// --------------------------------------------------------------- sysctl

TEST_F(SecurityTest, NamespacedSysctlsOnly) {
  const std::string before = read_file("/proc/sys/net/ipv4/ip_forward");
  const std::string want = trim(before) == "1" ? "0" : "1";
  const auto r = run({"--sysctl", "net.ipv4.ip_forward=" + want, "--sysctl", "kernel.shmmni=1234", "busybox", "sh",
                      "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, want + "\n1234\n") << r;
  EXPECT_EQ(read_file("/proc/sys/net/ipv4/ip_forward"), before);  // the host's own
  expect_usage_error(run({"--sysctl", "kernel.hostname=evil", "busybox", "true"}), "not namespaced");
  expect_usage_error(run({"--sysctl", "vm.swappiness=1", "busybox", "true"}), "not namespaced");
  expect_usage_error(nrun({"run", "--rm", "--net", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true"}),
                     "net with --net host");
  expect_usage_error(run({"--sysctl", "net.ipv4.ip_forward", "busybox", "true"}), "no value");
  EXPECT_TRUE(record_ids().empty());
}

// ----------------------------------------------------------------- users

TEST_F(SecurityTest, UsersAndGroups) {
  const auto nobody = facts(run({"-u", "nobody", "busybox", "/probe/probe", "status"}).out);
  EXPECT_EQ(nobody.at("Uid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(nobody.at("Gid"), "65534\t65534\t65534\t65534");
  const auto numeric = facts(run({"-u", "1000:1000", "--group-add", "4242", "--group-add", "nogroup", "busybox",
                                  "/probe/probe", "status"})
                                 .out);
  EXPECT_EQ(numeric.at("Uid"), "1000\t1000\t1000\t1000");
  EXPECT_EQ(numeric.at("Gid"), "1000\t1000\t1000\t1000");
  EXPECT_EQ(numeric.at("Groups"), "4242 65534");
  EXPECT_EQ(numeric.at("CapEff"), "0000000000000000");
  // Root gets no stray supplementary group of nrun's own.
  EXPECT_EQ(facts(run({"busybox", "/probe/probe", "status"}).out).at("Groups"), "");
  expect_usage_error(run({"-u", "nobody", "--group-add", "no-such-group", "busybox", "true"}), "unknown group");
  EXPECT_EQ(run({"-u", "mallory", "busybox", "true"}).exit_code, 125);

  // exec runs as the container's user unless told otherwise.
  const std::string id = sleeper({"-u", "1000:1000"});
  EXPECT_EQ(nrun({"exec", id, "id", "-u"}).out, "1000\n");
  EXPECT_EQ(nrun({"exec", "-u", "0", id, "id", "-u"}).out, "0\n");
}

// ------------------------------------------- nrun's own processes inside

TEST_F(SecurityTest, ExecingNrunIsNotReachableFromInside) {
  // A container watches every process that appears in it for an exe link it
  // can read or open for writing, while nrun execs into it again and again.
  const std::string id = run_detached({"--net", "none", "-v", probe_dir_.string() + ":/probe:ro", "busybox",
                                       "/probe/probe", "watch-exe", "3"});
  for (int i = 0; i < 20; ++i) nrun({"exec", id, "true"});
  ASSERT_TRUE(wait_for_status(id, "exited", 20s));
  const auto log = nrun({"logs", id}).out;
  EXPECT_FALSE(contains(log, "readable")) << log;
  EXPECT_FALSE(contains(log, "writable")) << log;
  EXPECT_TRUE(contains(log, "tries ")) << log;
}

TEST_F(SecurityTest, ProcStatOfAProcessWithAnOddName) {
  // Start-time checks parse /proc/PID/stat; a comm of "x) Z 1 (" must not
  // fool them.
  fs::copy_file(probe_dir_ / "probe", probe_dir_ / "x) Z 1 (");
  const std::string id = run_detached({"--net", "none", "-v", probe_dir_.string() + ":/probe:ro", "busybox",
                                       "/probe/x) Z 1 (", "sleep", "300"});
  EXPECT_EQ(status_of(id), "running");
  const auto e = nrun({"exec", id, "cat", "/proc/1/comm"});
  EXPECT_EQ(e.out, "x) Z 1 (\n") << e;
  const auto stop = nrun({"stop", "-t", "1", id});
  EXPECT_EQ(stop.exit_code, 0) << stop;
  EXPECT_EQ(status_of(id), "exited");
}

}  // namespace
}  // namespace nrun::it
