// Slice requests (bus/sched_slice.hpp) against the real kernel: on Linux 6.12+ the slice is
// set, read back and visible in /proc; on an older kernel the call says it was ignored. The
// thread's nice value is kept, a real-time thread is left alone, out-of-range requests are
// refused before any system call.
#include "bus/sched_slice.hpp"

#include <doctest/doctest.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

using namespace mdbus;

namespace {

/// Linux 6.12 made sched_attr::sched_runtime a slice request for fair tasks.
bool kernel_takes_slices() {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 12);
}

pid_t this_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

/// `se.slice` of the thread as the kernel shows it (ns), -1 when the line is absent.
long long proc_slice_ns(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/sched");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("se.slice", 0) != 0) continue;
    const auto colon = line.find(':');
    return colon == std::string::npos ? -1 : std::stoll(line.substr(colon + 1));
  }
  return -1;
}

/// Runs f on a thread of its own, so the test runner's thread keeps its scheduling.
template <class F>
void on_fresh_thread(F f) {
  std::thread t(f);
  t.join();
}

}  // namespace

TEST_CASE("sched_slice: a request is applied and read back on Linux 6.12+, reported as ignored before") {
  on_fresh_thread([] {
    const pid_t tid = this_tid();
    const wake_slice_outcome o = request_wake_slice(0, 250);
    if (kernel_takes_slices()) {
      CHECK(o.applied);
      CHECK(o.problem.empty());
      CHECK(o.slice_ns == 250'000);
      CHECK(current_slice_ns(0) == 250'000);
      const long long shown = proc_slice_ns(tid);
      if (shown >= 0) CHECK(shown == 250'000);  // the /proc line exists with CONFIG_SCHED_DEBUG
    } else {
      CHECK_FALSE(o.applied);
      CHECK(o.problem.find("6.12") != std::string::npos);
    }
  });
}

TEST_CASE("sched_slice: another thread by id, its nice value kept") {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread t([&] {
    tid.store(this_tid());
    while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (tid.load() == 0) std::this_thread::yield();
  REQUIRE(::setpriority(PRIO_PROCESS, static_cast<id_t>(tid.load()), 7) == 0);  // raising nice needs no privilege
  const wake_slice_outcome o = request_wake_slice(tid.load(), 100);
  CHECK(o.applied == kernel_takes_slices());
  CHECK(::getpriority(PRIO_PROCESS, static_cast<id_t>(tid.load())) == 7);
  if (kernel_takes_slices()) CHECK(current_slice_ns(tid.load()) == 100'000);
  done.store(true);
  t.join();
}

TEST_CASE("sched_slice: out-of-range requests are refused, a real-time thread is left alone") {
  for (const std::int64_t us : {std::int64_t{0}, std::int64_t{99}, std::int64_t{100'001}}) {
    const wake_slice_outcome o = request_wake_slice(0, us);
    CHECK_FALSE(o.applied);
    CHECK(o.problem == "slice " + std::to_string(us) + " us is outside the kernel's 100..100000 us");
  }
  on_fresh_thread([] {
    sched_param sp{};
    sp.sched_priority = 1;
    if (::sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
      MESSAGE("SCHED_FIFO needs CAP_SYS_NICE: the real-time case is not run here");
      return;
    }
    const wake_slice_outcome o = request_wake_slice(0, 200);
    CHECK_FALSE(o.applied);
    CHECK(o.problem.find("not SCHED_OTHER/SCHED_BATCH") != std::string::npos);
    CHECK(::sched_getscheduler(0) == SCHED_FIFO);
  });
  const wake_slice_outcome gone = request_wake_slice(999'999'999, 200);  // no such thread
  CHECK_FALSE(gone.applied);
  CHECK(gone.problem.rfind("sched_getattr: ", 0) == 0);
}
