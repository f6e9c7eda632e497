// Doorbells (bus/include/mdbus/doorbell.hpp) on real shared memory and the real futex: a sleeper is woken
// by a ring, times out when nothing rings, is not put to sleep by an epoch that already
// moved, is interrupted by a signal; a writer with nobody asleep makes no system call; a
// merger-style reader in this process and a feeder-style writer in another lose no wake-up
// over thousands of sleeps; a reader killed asleep is swept from the ring's doorbell.
// (The interleavings themselves: doorbell_model_test.)
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/doorbell.hpp"
#include "mdbus/reader_table.hpp"
#include "bus/spsc_ring.hpp"
#include "support/frame_pattern.hpp"
#include "support/spawn.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace mdbus;
using namespace std::chrono_literals;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void on_signal(int) {}

/// A thread that announces bit 2 on a bell and sleeps (10 s at most); constructed once the
/// bit is set. join() before reading `why`.
struct sleeper {
  std::atomic<bool> asleep{false};
  doorbell_wake_reason why = doorbell_wake_reason::timeout;
  std::thread t;
  explicit sleeper(doorbell_line& d)
      : t([this, &d] {
          const std::uint32_t key = doorbell_prepare(d, 2);
          asleep = true;
          why = doorbell_sleep(d, 2, key, 10'000'000'000);
        }) {
    while (!asleep) std::this_thread::yield();
  }
};

/// A merger's input bell under a unique bus name, and its line.
struct bell_fixture {
  test::unique_bus bus;
  doorbell_segment bell = doorbell_segment::create(merge_doorbell_name(bus.name()));
  doorbell_line& d = *bell.line();
};

}  // namespace

TEST_CASE("a sleeper times out when nothing rings, and withdraws its bit") {
  bell_fixture f;
  doorbell_line& d = f.d;
  const std::uint32_t key = doorbell_prepare(d, kMergerSleeperBit);
  CHECK(d.sleepers.load() == kMergerSleeperBit);
  const std::int64_t t0 = now_ns();
  CHECK(doorbell_sleep(d, kMergerSleeperBit, key, 20'000'000) == doorbell_wake_reason::timeout);
  CHECK(now_ns() - t0 >= 20'000'000);
  CHECK(d.sleepers.load() == 0);
  CHECK(d.sleeps.load() == 1);
}

TEST_CASE("a writer with nobody asleep neither wakes nor moves the epoch, and cancel withdraws the bit") {
  bell_fixture f;
  doorbell_line& d = f.d;
  for (int i = 0; i < 1000; ++i) doorbell_ring(d);
  CHECK(d.wakes.load() == 0);
  CHECK(d.epoch.load() == 0);
  (void)doorbell_prepare(d, 4);
  doorbell_cancel(d, 4);
  doorbell_ring(d);
  CHECK(d.wakes.load() == 0);
  CHECK(d.sleepers.load() == 0);
}

TEST_CASE("a ring between announcing and sleeping is not lost: the sleep returns at once") {
  bell_fixture f;
  doorbell_line& d = f.d;
  const std::uint32_t key = doorbell_prepare(d, kMergerSleeperBit);
  doorbell_ring(d);  // the writer saw the bit: the epoch moves
  CHECK(d.wakes.load() == 1);
  const std::int64_t t0 = now_ns();
  CHECK(doorbell_sleep(d, kMergerSleeperBit, key, 5'000'000'000) == doorbell_wake_reason::rung);
  CHECK(now_ns() - t0 < 1'000'000'000);
  CHECK(d.sleepers.load() == 0);
}

TEST_CASE("a sleeping thread is woken by a ring from another thread, and by a signal") {
  bell_fixture f;
  doorbell_line& d = f.d;
  {
    sleeper s(d);
    // The bit is set before `asleep`: ringing now wakes it, whether or not it is in the
    // kernel yet (if not, the epoch moved and its FUTEX_WAIT returns at once).
    doorbell_ring(d);
    s.t.join();
    CHECK(s.why == doorbell_wake_reason::rung);
  }
  {
    struct sigaction sa{};
    sa.sa_handler = on_signal;  // no SA_RESTART: the futex returns EINTR
    struct sigaction old{};
    sigaction(SIGUSR1, &sa, &old);
    sleeper s(d);
    // Signal until it is out (the first one may land before it entered the kernel).
    const pthread_t h = s.t.native_handle();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (d.sleepers.load() != 0 && std::chrono::steady_clock::now() < deadline) {
      pthread_kill(h, SIGUSR1);
      std::this_thread::sleep_for(1ms);
    }
    s.t.join();
    sigaction(SIGUSR1, &old, nullptr);
    CHECK(s.why == doorbell_wake_reason::signal);
  }
}

TEST_CASE("the merger adopts its bell: a dead merger's bit is cleared, feeders keep the same file") {
  test::unique_bus bus;
  const std::string name = merge_doorbell_name(bus.name());
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // a merger that dies in its sleep
    auto bell = doorbell_segment::create(name);
    (void)doorbell_prepare(*bell.line(), kMergerSleeperBit);
    const char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  doorbell_segment feeder;
  std::string why;
  REQUIRE(doorbell_segment::try_open(name, feeder, why) == attach_status::ok);
  CHECK(feeder.line()->sleepers.load() == kMergerSleeperBit);
  kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  auto second = doorbell_segment::create(name);
  CHECK(second.line()->sleepers.load() == 0);
  CHECK_FALSE(feeder.replaced());
  CHECK(feeder.line()->sleepers.load() == 0);  // the same line
  doorbell_segment none;
  CHECK(doorbell_segment::try_open(merge_doorbell_name(bus.name() + "-absent"), none, why) == attach_status::await);
}

TEST_CASE("across processes: a sleeping SPSC reader misses no frame and no wake-up over thousands of sleeps") {
  test::unique_bus bus;
  const std::string ring = bus.segment("in");
  const std::string bell_name = merge_doorbell_name(bus.name());
  auto bell = doorbell_segment::create(bell_name);
  doorbell_line& d = *bell.line();
  constexpr std::uint64_t kFrames = 200'000;
  constexpr std::uint32_t kMaxLen = 200;
  test::child writer(
      {MDBUS_RING_PEER, "spsc-bell-writer", ring, bell_name, std::to_string(kFrames), std::to_string(kMaxLen)});
  auto r = spsc_ring_reader::open(ring, 10'000);
  std::uint64_t next = 0, bad = 0, sleeps = 0, timeouts = 0;
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (next < kFrames && std::chrono::steady_clock::now() < deadline) {
    auto on_frame = [&](const spsc_frame& f) {
      if (!test::check_pattern(f.payload, next, kMaxLen)) ++bad;
      ++next;
    };
    if (r.poll(on_frame, 64) > 0) continue;
    // The merger's way to sleep: announce, look once more, sleep only if still empty.
    // 10 s: a wait that ends by timeout while the writer is running is a lost wake-up.
    const doorbell_wake_reason why =
        doorbell_wait(d, kMergerSleeperBit, 10'000'000'000, [&] { return r.poll(on_frame, 64) > 0; });
    if (why == doorbell_wake_reason::looked) continue;
    ++sleeps;
    if (why == doorbell_wake_reason::timeout) ++timeouts;
  }
  CHECK(writer.wait(30'000) == 0);
  CHECK(next == kFrames);
  CHECK(bad == 0);
  CHECK(timeouts == 0);
  CHECK(sleeps > 1000);  // the test exercised the sleep path, not only the spin
  MESSAGE(kFrames << " frames, " << sleeps << " sleeps, " << d.wakes.load() << " wakes, " << timeouts
                  << " timeouts");
}

TEST_CASE("a reader killed asleep on a ring's doorbell is swept: its slot freed, its bit cleared") {
  test::unique_bus bus;
  const std::string ring = bus.segment("out");
  auto w = broadcast_ring_writer::create(ring, {1 << 16, 256});
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::string why;
    auto reg = reader_registration::claim(ring, "sleeper", why);
    doorbell_line* d = reg.doorbell();
    if (d == nullptr) _exit(2);
    const std::uint32_t key = doorbell_prepare(*d, reg.sleeper_bit());
    const char c = 1;
    if (write(ready[1], &c, 1) != 1) _exit(3);
    (void)doorbell_sleep(*d, reg.sleeper_bit(), key, 60'000'000'000);
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  reader_table table;
  std::string why;
  REQUIRE(reader_table::try_open(ring, access_mode::read_only, table, why) == attach_status::ok);
  REQUIRE(table.doorbell() != nullptr);
  CHECK(table.readers().size() == 1);
  CHECK(table.doorbell()->sleepers.load() != 0);  // the dead reader's bit
  const std::uint64_t wakes = table.doorbell()->wakes.load();
  const std::byte frame[8]{};
  REQUIRE(w.write(1, frame));
  w.notify();  // a useless wake-up: nobody is there
  CHECK(table.doorbell()->wakes.load() == wakes + 1);
  CHECK(w.sweep_dead_sleepers() == 1);
  CHECK(table.doorbell()->sleepers.load() == 0);
  CHECK(table.readers().empty());  // the slot is free again
  REQUIRE(w.write(1, frame));
  w.notify();
  CHECK(table.doorbell()->wakes.load() == wakes + 1);
  CHECK(w.sweep_dead_sleepers() == 0);
}
