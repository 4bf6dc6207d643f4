#include "runtime/container.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/cgroup.hpp"
#include "runtime/container_log.hpp"
#include "runtime/host_resources.hpp"
#include "runtime/launch_error.hpp"
#include "runtime/monitor.hpp"
#include "runtime/networking.hpp"
#include "runtime/namespaces.hpp"
#include "runtime/process_setup.hpp"
#include "runtime/rootfs.hpp"
#include "runtime/security.hpp"
#include "runtime/shared_namespaces.hpp"
#include "runtime/sys/scope_guard.hpp"
#include "runtime/spawn.hpp"
#include "runtime/sys/error.hpp"
#include "runtime/sys/lock.hpp"
#include "runtime/sys/log.hpp"
#include "runtime/sys/proc.hpp"
#include "runtime/sys/syscalls.hpp"

namespace nrun::runtime {
namespace fs = std::filesystem;

namespace {
constexpr int kMonitorWaitMs = 10000;

struct LaunchIo {
  int in = 0, out = 1, err = 2;
  bool die_with_monitor = false;
};

InitArgs make_init_args(Stores s, const ContainerRecord& rec, const LaunchIo& io) {
  const ImageInfo image = s.images.get(rec.config.image);
  const fs::path dir = s.containers.dir(rec.id);
  for (const char* sub : {"upper", "work", "rootfs"}) fs::create_directories(dir / sub);
  const RootfsInput in{image.layers, (dir / "upper").string(), (dir / "work").string(), (dir / "rootfs").string(),
                       network_file_mounts(s.containers, rec)};
  InitArgs a;
  a.rootfs = build_mount_plan(rec.config, in);
  a.hostname = rec.config.hostname;
  a.argv = rec.config.command;
  a.env = effective_env(rec.config);
  a.security = process_security(rec.config, s.containers.root() / "cache");
  a.tty = rec.config.tty;
  a.window = caller_window_size();
  a.stdin_fd = io.in;
  a.stdout_fd = io.out;
  a.stderr_fd = io.err;
  a.die_with_monitor = io.die_with_monitor;
  return a;
}

// Before a run takes anything on the host: what the record's previous run
// still holds (its monitor was killed, so it undid nothing: the lease, the
// published-port elements, the cgroup) is undone, and the record names this
// monitor as the one setting up the network (intent first). Killed from
// here on, it leaves a record that rm -f, gc and the next start undo by the
// container's id. Returns the network record to start from.
nlohmann::json record_launch_intent(StateStore& store, const ContainerRecord& rec) {
  ContainerState prev = rec.state;
  const bool held = !is_alive(prev) && (!prev.network.is_null() || !prev.cgroup.is_null());
  if (held) teardown_host_resources(store, rec, prev);
  if (!held && !uses_networks(rec.config)) return nullptr;
  const nlohmann::json network = uses_networks(rec.config) ? network_intent() : prev.network;
  const auto monitor_start = sys::try_process_start_time(::getpid()).value_or(0);
  store.update(rec.id, [&](ContainerState& st) {
    st.cgroup = prev.cgroup;
    st.network = network;
    st.monitor_pid = ::getpid();
    st.monitor_start_time = monitor_start;
  }, sys::Durability::none);  // as the running state: see launch()
  return network;
}

// Clones the container, sets up what it holds on the host while init
// waits, and records it as running.
Spawned launch(Stores s, const ContainerRecord& rec, const LaunchIo& io) {
  ContainerState held;
  held.network = record_launch_intent(s.containers, rec);
  InitArgs args = make_init_args(s, rec, io);
  // Before the other container's namespace is opened: see shared_namespaces.hpp.
  record_net_sharer(s.containers, rec);
  SharedNamespaces shared;
  {
    sys::ScopeGuard forget([&] { forget_net_sharer(s.containers, rec); });
    shared = plan_shared_namespaces(s.containers, rec.config, args);
    if (shared.pid_ns) sys::check(::setns(shared.pid_ns.get(), CLONE_NEWPID), "join pid namespace");
    forget.dismiss();  // from here, teardown_host_resources forgets it
  }
  try {
    args.cgroup = prepare_host_resources(s.containers, rec, held);
    Spawned sp = spawn_container(args, [&](pid_t pid) {
      setup_host_resources(s.containers, rec, pid, held);
      // One write records the run and what it holds before init runs, so a
      // monitor killed from here on leaves a record that rm can undo. Not
      // fsync'd: it lists a live process and what it holds on the host
      // (cgroup, veths, nft elements), none of which survives a crash of the
      // machine, while a killed monitor leaves the page cache intact.
      const auto start_time = sys::try_process_start_time(pid).value_or(0);
      const auto monitor_start = sys::try_process_start_time(::getpid()).value_or(0);
      s.containers.update(rec.id, [&](ContainerState& st) {
        st.status = Status::running;
        st.pid = pid;
        st.start_time = start_time;
        st.monitor_pid = ::getpid();
        st.monitor_start_time = monitor_start;
        st.started_at = now_rfc3339();
        st.finished_at.clear();
        st.exit_code = 0;
        st.oom_killed = false;
        st.boot_id = sys::boot_id();
        st.error.clear();
        st.cgroup = held.cgroup;
        st.network = held.network;
      }, sys::Durability::none);
    });
    log::debug("container " + rec.short_id() + " running as pid " + std::to_string(sp.init.pid()));
    return sp;
  } catch (...) {
    teardown_host_resources(s.containers, rec, held);  // a no-op for what was not made
    try {
      s.containers.update(rec.id, [&](ContainerState& st) {
        st.cgroup = held.cgroup;
        st.network = held.network;
      });
    } catch (...) {
      // The record may be gone already (rm -f); nothing is held any more.
    }
    throw;
  }
}

// Init has exited: gather facts and undo what it held. nullopt when the
// record is gone already (rm -f).
std::optional<std::pair<ContainerRecord, ContainerState>> collect_and_undo(StateStore& store, const std::string& id) {
  auto rec = store.try_load(id);
  if (!rec) return std::nullopt;
  ContainerState st = rec->state;
  collect_exit_facts(store, *rec, st);
  teardown_host_resources(store, *rec, st);
  return std::make_pair(std::move(*rec), std::move(st));
}

void record_finish(StateStore& store, const std::string& id, int exit_code, const ContainerState& st) {
  store.update(id, [&](ContainerState& x) {
    x.status = Status::exited;
    x.exit_code = exit_code;
    x.oom_killed = st.oom_killed;
    x.finished_at = now_rfc3339();
    x.cgroup = st.cgroup;
    x.network = st.network;
  });
}

// ... and record the exit; a --rm container's record goes instead (its
// exit is written only when something could not be undone, and then the
// record stays, so that `nrun rm` or `nrun gc` can try again). The monitor,
// `stop` after a killed monitor, and gc all end a run through here.
void finish(StateStore& store, const std::string& id, int exit_code) {
  const auto done = collect_and_undo(store, id);
  if (!done) return;
  const auto& [rec, st] = *done;
  if (!rec.config.remove) return record_finish(store, id, exit_code, st);
  if (holds_host_resources(rec, st)) {
    record_finish(store, id, exit_code, st);
    log::warn("container " + rec.short_id() + " still holds host resources; kept for 'nrun rm', ignoring --rm");
    return;
  }
  store.remove(id);
}

void record_exit(StateStore& store, const std::string& id, int exit_code, const std::string& error = "") {
  store.update(id, [&](ContainerState& st) {
    st.status = Status::exited;
    st.exit_code = exit_code;
    st.finished_at = now_rfc3339();
    st.error = error;
  });
}

// After a failed launch: nothing of it stays (run), or the record says why
// (start).
void undo_failed_launch(StateStore& store, const std::string& id, bool remove, const std::exception& e) {
  try {
    if (remove) store.remove(id);
    else record_exit(store, id, 125, sys::describe(e));
  } catch (const std::exception& undo) {
    log::warn("clean up after failed start of " + id.substr(0, 12) + ": " + sys::describe(undo) + ", ignoring");
  }
}

// Waits until `pid` (verified by start time) is gone, up to `ms`.
bool wait_gone(pid_t pid, uint64_t start_time, int ms) {
  if (pid <= 0) return true;
  sys::Fd pidfd(sys::sys_pidfd_open(pid));
  if (!pidfd) return true;  // already gone
  if (!sys::process_matches(pid, start_time)) return true;
  pollfd p{pidfd.get(), POLLIN, 0};
  while (::poll(&p, 1, ms) < 0 && errno == EINTR) {
  }
  return p.revents & POLLIN;
}

void wait_for_monitor(StateStore& store, const std::string& id, const ContainerState& st, int exit_code) {
  if (!wait_gone(st.monitor_pid, st.monitor_start_time, kMonitorWaitMs))
    log::warn("monitor of " + id.substr(0, 12) + " did not finish in time, ignoring");
  // A monitor killed earlier never recorded the exit; record it now.
  if (auto rec = store.try_load(id); rec && rec->state.finished_at.empty())
    finish(store, id, exit_code);
}

void notify(int fd, int code, const std::string& msg) {
  try {
    sys::write_all(fd, std::to_string(code) + "\n" + msg);
  } catch (...) {
  }
}
}  // namespace

int run_attached(Stores s, const std::string& id, bool remove_on_failure) {
  const ContainerRecord rec = s.containers.load(id);
  ForwardedSignals signals;  // before clone, so no signal slips past
  sys::Fd devnull;
  LaunchIo io;
  io.die_with_monitor = true;
  if (!rec.config.interactive) {
    devnull = sys::open_path("/dev/null", O_RDONLY);
    io.in = devnull.get();
  }
  Spawned sp;
  try {
    sp = launch(s, rec, io);
  } catch (const std::exception& e) {
    undo_failed_launch(s.containers, id, remove_on_failure, e);
    throw;
  }
  int status;
  {
    std::optional<RawTerminal> raw;
    if (rec.config.tty && rec.config.interactive) raw.emplace(STDIN_FILENO);
    status = supervise_attached(sp.init, sp.pty_master, signals, rec.config.interactive);
  }
  const int code = exit_code_from_status(status);
  finish(s.containers, id, code);
  return code;
}

void start_detached(Stores s, const std::string& id, bool remove_on_failure) {
  const ContainerRecord rec = s.containers.load(id);
  if (is_alive(rec.state)) return;  // already running: nothing to do, as Docker
  sys::Pipe status_pipe = sys::make_pipe();
  std::fflush(nullptr);
  const pid_t monitor = static_cast<pid_t>(sys::check(::fork(), "fork monitor"));
  if (monitor == 0) {
    // The monitor: never returns into the CLI's frames.
    status_pipe.read.reset();
    int rc = 0;
    try {
      ::setsid();
      ::signal(SIGPIPE, SIG_IGN);
      sys::Fd devnull = sys::open_path("/dev/null", O_RDWR);
      sys::Fd monitor_log = sys::open_path((s.containers.dir(id) / "monitor.log").string(),
                                           O_WRONLY | O_CREAT | O_APPEND, 0640);
      ::dup2(devnull.get(), 0);
      ::dup2(devnull.get(), 1);
      ::dup2(monitor_log.get(), 2);
      sys::Pipe out = sys::make_pipe(), err = sys::make_pipe(), in = sys::make_pipe();
      LaunchIo io;
      io.in = rec.config.interactive ? in.read.get() : devnull.get();
      io.out = out.write.get();
      io.err = err.write.get();
      Spawned sp;
      try {
        sp = launch(s, rec, io);
      } catch (const LaunchError& e) {
        undo_failed_launch(s.containers, id, remove_on_failure, e);
        notify(status_pipe.write.get(), e.exit_code(), sys::describe(e));
        ::_exit(0);
      } catch (const std::exception& e) {
        undo_failed_launch(s.containers, id, remove_on_failure, e);
        notify(status_pipe.write.get(), 125, sys::describe(e));
        ::_exit(0);
      }
      notify(status_pipe.write.get(), 0, "");
      status_pipe.write.reset();
      // Only the container holds the write ends now, so EOF means it is done.
      out.write.reset();
      err.write.reset();
      in.read.reset();
      LogWriter log((s.containers.dir(id) / "container.log").string());
      const int status = rec.config.tty ? supervise_detached(sp.init, std::move(sp.pty_master), sys::Fd(), log)
                                        : supervise_detached(sp.init, std::move(out.read), std::move(err.read), log);
      finish(s.containers, id, exit_code_from_status(status));
    } catch (const std::exception& e) {
      log::error("monitor: " + sys::describe(e));
      rc = 1;
    } catch (...) {
      log::error("monitor: unknown error");
      rc = 1;
    }
    ::_exit(rc);
  }
  status_pipe.write.reset();
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::read(status_pipe.read.get(), buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  ::waitpid(monitor, nullptr, WNOHANG);
  const auto nl = reply.find('\n');
  if (nl == std::string::npos) throw sys::Error("the container's monitor died while starting it");
  const int code = std::stoi(reply.substr(0, nl));
  const std::string msg = reply.substr(nl + 1);
  if (code == 126 || code == 127) throw LaunchError(code, msg);
  if (code != 0) throw sys::Error(msg);
}

void kill_container(StateStore& store, const std::string& id, int sig) {
  const ContainerRecord rec = store.load(id);
  sys::Fd pidfd = open_init_pidfd(rec.state);
  if (!pidfd) throw sys::UsageError("container '" + rec.config.name + "' is not running");
  sys::check(sys::sys_pidfd_send_signal(pidfd.get(), sig), "signal container '" + rec.config.name + "'");
}

// A frozen container (paused for a commit, or left so by a commit that was
// killed) handles no signal until it is thawed, and on cgroup v1 not even
// SIGKILL: so once signalled it is thawed, as Docker does for stop.
void thaw_signalled(const ContainerState& st) noexcept {
  try {
    if (auto cg = cgroup_from_json(st.cgroup)) cg->thaw();
  } catch (const std::exception& e) {
    log::warn("thaw the container to deliver the signal: " + sys::describe(e) + ", ignoring");
  }
}

void stop_container(StateStore& store, const std::string& id, int timeout_secs) {
  const ContainerRecord rec = store.load(id);
  sys::Fd pidfd = open_init_pidfd(rec.state);
  if (!pidfd) return;  // stopping a stopped container is not an error, as Docker
  int sig = SIGTERM;
  if (timeout_secs > 0 && sys::sys_pidfd_send_signal(pidfd.get(), SIGTERM) == 0) {
    thaw_signalled(rec.state);
    pollfd p{pidfd.get(), POLLIN, 0};
    while (::poll(&p, 1, timeout_secs * 1000) < 0 && errno == EINTR) {
    }
    if (!(p.revents & POLLIN)) sig = SIGKILL;
  } else {
    sig = SIGKILL;
  }
  if (sig == SIGKILL) {
    log::debug("container " + rec.short_id() + " ignored SIGTERM; sending SIGKILL");
    sys::sys_pidfd_send_signal(pidfd.get(), SIGKILL);
    thaw_signalled(rec.state);
    pollfd p{pidfd.get(), POLLIN, 0};
    while (::poll(&p, 1, kMonitorWaitMs) < 0 && errno == EINTR) {
    }
  }
  wait_for_monitor(store, id, rec.state, 128 + sig);
}

// A record whose files do not parse (emptied, torn): what the container
// holds is found from its id instead. Its cgroup is nrun/<id>, and removing
// it kills what still runs there (init, when the container was running);
// its veths are named from the id and its leases and nft elements carry it,
// which is what detach_networks undoes for a lost network record.
void remove_corrupt_container(StateStore& store, const std::string& id) {
  ContainerRecord rec;
  rec.id = id;
  if (auto config = store.try_load_config(id)) rec.config = std::move(*config);
  ContainerState lost;  // cgroup and network null: not known
  try {
    if (auto cg = make_container_cgroup(host_cgroup_layout(), id)) cg->remove();
  } catch (const std::exception& e) {
    log::warn("remove the cgroup of " + rec.short_id() + ": " + sys::describe(e) + ", ignoring");
  }
  teardown_host_resources(store, rec, lost);
  store.remove(id);
  log::warn("removed container record " + rec.short_id() + ", which was corrupt; its cgroup, veths, leases and "
            "nft elements were looked up by its id");
}

void remove_container(StateStore& store, const std::string& id, bool force) {
  ContainerRecord rec;
  try {
    rec = store.load(id);
  } catch (const CorruptRecord& e) {
    if (!force) throw sys::UsageError(std::string(e.what()) + "; 'nrun rm -f' removes it");
    remove_corrupt_container(store, id);
    return;
  }
  if (is_alive(rec.state)) {
    // Only for the refusal's message: finding the sharers reads every
    // record, and a lab's destroy removes each node with -f.
    if (!force) {
      const auto sharers = containers_sharing(store, id);
      if (!sharers.empty())
        throw sys::UsageError("cannot remove container '" + rec.config.name + "': container '" + sharers[0] +
                              "' shares its namespaces; stop it first or use -f");
      throw sys::UsageError("cannot remove running container '" + rec.config.name +
                            "': stop it first or use -f");
    }
    stop_container(store, id, 0);
  } else if (rec.state.status == Status::running || rec.state.finished_at.empty()) {
    // The monitor may still be writing the exit (or removing an --rm record).
    wait_gone(rec.state.monitor_pid, rec.state.monitor_start_time, kMonitorWaitMs);
  }
  // A monitor killed with SIGKILL undid nothing; undo it here (idempotent).
  if (auto now = store.try_load(id)) {
    ContainerState st = now->state;
    teardown_host_resources(store, *now, st);
  }
  store.remove(id);
}

bool remove_container_if_exists(StateStore& store, const std::string& id, bool force) {
  try {
    remove_container(store, id, force);
    return true;
  } catch (const sys::UsageError&) {
    // "no such container" from a load, or a refusal about a record that
    // has gone since.
    if (!store.record_exists(id)) return false;
    throw;
  } catch (const sys::SysError& e) {
    // A file of the record removed while it was read or updated.
    if (e.err() == ENOENT && !store.record_exists(id)) return false;
    throw;
  }
}

std::vector<std::string> collect_garbage(StateStore& store) {
  store.sweep_temps();
  std::vector<std::string> collected;
  for (const auto& rec : store.list()) {
    const ContainerState& st = rec.state;
    if (is_alive(st)) continue;
    const bool unrecorded_exit = st.status == Status::exited && st.finished_at.empty() && !st.started_at.empty();
    if (!unrecorded_exit && st.cgroup.is_null() && st.network.is_null()) continue;
    // A live monitor is about to record the exit itself.
    if (st.boot_id == sys::boot_id() && sys::process_matches(st.monitor_pid, st.monitor_start_time)) continue;
    // A --rm container goes, as its monitor would have removed it.
    finish(store, rec.id, unrecorded_exit ? 255 : st.exit_code);
    collected.push_back(rec.id);
  }
  release_orphaned_networking(store);
  return collected;
}

void collect_after_reboot(StateStore& store) {
  const std::string marker = (store.root() / "boot_id").string();
  const std::string now = sys::boot_id();
  std::string seen;
  try {
    seen = sys::read_file(marker);
  } catch (const sys::SysError&) {
  }
  if (seen == now) return;
  if (!seen.empty()) {
    const auto ids = collect_garbage(store);
    log::info("first command since a reboot: collected " + std::to_string(ids.size()) + " containers of the last boot");
    // A record torn by the crash (a --rm container's, written without
    // fsync) cannot run again: nothing of it lives on after a reboot.
    for (const auto& id : store.corrupt_records()) {
      try {
        store.remove(id);
        log::warn("removed container record " + id.substr(0, 12) + " torn by the last shutdown");
      } catch (const std::exception& e) {
        log::warn("remove torn container record " + id.substr(0, 12) + ": " + sys::describe(e) + ", ignoring");
      }
    }
  }
  fs::create_directories(store.root());
  sys::write_file_atomic(marker, now, 0644, sys::Durability::none);
}

int parse_signal(const std::string& s) {
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
      {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
      {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
      {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},   {"PWR", SIGPWR},   {"SYS", SIGSYS}};
  if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) {
    const int n = std::stoi(s);
    if (n >= 1 && n <= 64) return n;
  }
  std::string name = s;
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (const auto& [n, v] : kSignals)
    if (name == n) return v;
  throw sys::UsageError("invalid signal '" + s + "'");
}

}  // namespace nrun::runtime
