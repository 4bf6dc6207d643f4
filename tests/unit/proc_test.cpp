// sys::thread_count and assert_single_threaded against real threads: the
// guard every namespace switch relies on.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "runtime/sys/error.hpp"
#include "runtime/sys/proc.hpp"

TEST(ThreadCount, SeesASecondThreadAndTheGuardRefusesIt) {
  ASSERT_EQ(nrun::sys::thread_count(), 1);
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread t([&] {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return done; });
  });
  EXPECT_EQ(nrun::sys::thread_count(), 2);
  try {
    nrun::sys::assert_single_threaded("join something");
    ADD_FAILURE() << "expected an error with two threads";
  } catch (const nrun::sys::Error& e) {
    EXPECT_NE(std::string(e.what()).find("join something: needs a single-threaded process, found 2 threads"),
              std::string::npos)
        << e.what();
  }
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_one();
  t.join();
  EXPECT_EQ(nrun::sys::thread_count(), 1);
}
