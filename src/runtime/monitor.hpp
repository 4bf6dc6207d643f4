// What the monitor does while the container runs: relay a terminal or
// collect output into the log, forward signals, and wait for init.
#pragma once
#include <signal.h>
#include <termios.h>

#include <optional>

#include "runtime/container_log.hpp"
#include "runtime/spawn.hpp"
#include "runtime/sys/fd.hpp"

namespace nrun::runtime {

// Blocks the signals the monitor forwards and reads them from a signalfd.
// Created before clone so no signal is lost; init resets its mask.
class ForwardedSignals {
 public:
  ForwardedSignals();
  ~ForwardedSignals();
  int fd() const { return fd_.get(); }

 private:
  sigset_t old_;
  sys::Fd fd_;
};

// Puts a terminal in raw mode and restores it when destroyed.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();

 private:
  int fd_;
  bool active_ = false;
  termios saved_{};
};

// Foreground: stdio was handed to init, or `pty_master` is relayed to our
// own stdin/stdout. Returns init's wait status.
int supervise_attached(ChildPid& init, const sys::Fd& pty_master, ForwardedSignals& signals, bool relay_stdin);

// Detached: the container's output (pipes or the pty master) goes to the
// log. Returns init's wait status.
int supervise_detached(ChildPid& init, sys::Fd out, sys::Fd err, LogWriter& log);

}  // namespace nrun::runtime
