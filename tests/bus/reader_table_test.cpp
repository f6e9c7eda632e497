// The broadcast ring's reader table: created by the ring writer, claimed by a CAS on the pid,
// released, reclaimed from a dead reader, refused when full, never freed by a forked copy,
// and safe under concurrent claims and a tool reading while readers update (TSan build).
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/reader_table.hpp"

#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

using namespace mdbus;

namespace {

std::vector<reader_entry> readers_of(const std::string& ring) {
  reader_table t;
  std::string why;
  REQUIRE_MESSAGE(reader_table::try_open(ring, access_mode::read_only, t, why) == attach_status::ok, why);
  return t.readers();
}

/// Runs `child` in a forked process that _exits with its return value (or exits itself);
/// returns that exit status once the child is reaped (a zombie still counts as alive).
template <class F>
int in_child(F&& child) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(child());
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("the ring writer creates the reader table next to the ring, with the ring's mode") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  auto w = broadcast_ring_writer::create(ring, {4096, 256}, 0640);
  CHECK(w.readers().valid());
  CHECK(w.readers().slots() == kReaderTableSlots);
  CHECK(w.readers().segment().name() == ring + ".readers");
  struct stat st{};
  REQUIRE(stat(("/dev/shm/" + ring + ".readers").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(st.st_size == static_cast<off_t>(reader_table_size(kReaderTableSlots)));
  const segment_info i = inspect_segment(ring + ".readers");
  CHECK(i.status == attach_status::ok);
  CHECK(i.kind == segment_kind::reader_table);
  CHECK(readers_of(ring).empty());
}

TEST_CASE("a reader claims a slot, its updates show in its own line only, and release frees it") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  auto w = broadcast_ring_writer::create(ring, {4096, 256});
  std::string why;
  auto a = reader_registration::claim(ring, "strategy_a", why);
  REQUIRE_MESSAGE(a.valid(), why);
  auto b = reader_registration::claim(ring, "a_name_longer_than_sixteen", why);
  REQUIRE_MESSAGE(b.valid(), why);
  CHECK(a.slot() == 0);
  CHECK(b.slot() == 1);
  a.update(4096, 32);
  a.update_losses(2, 17);
  a.touch(12345);
  auto r = readers_of(ring);
  REQUIRE(r.size() == 2);
  CHECK(r[0].pid == getpid());
  CHECK(r[0].alive);
  CHECK(r[0].name == "strategy_a");
  CHECK(r[0].position == 4096);
  CHECK(r[0].next_seq == 32);
  CHECK(r[0].laps == 2);
  CHECK(r[0].missed_frames == 17);
  CHECK(r[0].update_ns == 12345);
  CHECK(r[1].name == "a_name_longer_th");  // cut to kReaderNameMax
  CHECK(r[1].position == 0);
  CHECK(r[1].laps == 0);

  a.release();
  a.update(1, 1);  // an empty registration ignores updates
  r = readers_of(ring);
  REQUIRE(r.size() == 1);
  CHECK(r[0].slot == 1);
  auto c = reader_registration::claim(ring, "c", why);
  CHECK(c.slot() == 0);  // the freed slot is the first free one again
  CHECK(readers_of(ring)[0].laps == 0);  // reset on claim: nothing of the previous owner shows

  reader_registration moved = std::move(c);
  CHECK_FALSE(c.valid());
  CHECK(moved.valid());
  { reader_registration gone = std::move(moved); }
  CHECK(readers_of(ring).size() == 1);  // destroying the last owner released the slot
}

TEST_CASE("a slot left by a reader that died is shown as dead and reclaimed by the next reader") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  auto w = broadcast_ring_writer::create(ring, {4096, 256});
  pid_t child_pid = 0;
  // The child claims slot 0 and exits without releasing it, as a crash would.
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  const int rc = in_child([&] {
    std::string why;
    auto r = reader_registration::claim(ring, "crashed", why);
    r.update(640, 5);
    const pid_t me = getpid();
    if (write(pipefd[1], &me, sizeof me) != sizeof me) _exit(2);
    _exit(r.valid() && r.slot() == 0 ? 0 : 1);  // before `r` goes out of scope: it is never released
    return 3;
  });
  REQUIRE(rc == 0);
  REQUIRE(read(pipefd[0], &child_pid, sizeof child_pid) == sizeof child_pid);
  close(pipefd[0]);
  close(pipefd[1]);

  auto r = readers_of(ring);
  REQUIRE(r.size() == 1);
  CHECK(r[0].pid == child_pid);
  CHECK_FALSE(r[0].alive);
  CHECK(r[0].name == "crashed");
  CHECK(r[0].position == 640);

  std::string why;
  auto mine = reader_registration::claim(ring, "restarted", why);
  REQUIRE(mine.valid());
  CHECK(mine.slot() == 0);
  r = readers_of(ring);
  REQUIRE(r.size() == 1);
  CHECK(r[0].pid == getpid());
  CHECK(r[0].alive);
  CHECK(r[0].name == "restarted");
  CHECK(r[0].position == 0);
}

TEST_CASE("a full table refuses a reader with a reason, a missing table too") {
  test::unique_bus bus;
  const auto ring = bus.segment("small");
  auto table = reader_table::create(ring, 0600, 3);
  std::string why;
  std::vector<reader_registration> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(reader_registration::claim(ring, "r" + std::to_string(i), why));
    REQUIRE(held.back().valid());
  }
  auto extra = reader_registration::claim(ring, "extra", why);
  CHECK_FALSE(extra.valid());
  CHECK(why == "segment " + ring + ".readers: all 3 reader slots are taken by live readers");
  held[1].release();
  CHECK(reader_registration::claim(ring, "extra", why).valid());

  auto none = reader_registration::claim(bus.segment("nothing"), "x", why);
  CHECK_FALSE(none.valid());
  CHECK(why == "segment " + bus.segment("nothing") + ".readers: does not exist (yet)");
}

TEST_CASE("a forked child's copy of a registration never frees its parent's slot") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  auto w = broadcast_ring_writer::create(ring, {4096, 256});
  std::string why;
  auto mine = reader_registration::claim(ring, "parent", why);
  REQUIRE(mine.valid());
  CHECK(in_child([&] {
          mine.release();  // the inherited copy: must not touch the parent's slot
          return 0;
        }) == 0);
  const auto r = readers_of(ring);
  REQUIRE(r.size() == 1);
  CHECK(r[0].pid == getpid());
  CHECK(r[0].name == "parent");
}

TEST_CASE("a table with an absurd slot count is refused, never indexed") {
  test::unique_bus bus;
  segment_spec spec;
  spec.name = bus.segment("out.readers");
  spec.kind = segment_kind::reader_table;
  spec.total_size = reader_table_size(4);
  spec.geometry = {kMaxReaderTableSlots + 1, 0, 0};
  auto seg = shm_segment::create_or_adopt(spec);
  reader_table t;
  std::string why;
  CHECK(reader_table::try_open(bus.segment("out"), access_mode::read_only, t, why) == attach_status::incompatible);
  CHECK(why.find("reader slots is out of range") != std::string::npos);
  CHECK_FALSE(reader_registration::claim(bus.segment("out"), "x", why).valid());
}

TEST_CASE("threads: concurrent claims get distinct slots while a tool reads the table as readers update") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  auto w = broadcast_ring_writer::create(ring, {4096, 256});
  constexpr int kThreads = 8;
  constexpr int kPerThread = kReaderTableSlots / kThreads;
  std::vector<std::vector<reader_registration>> regs(kThreads);
  std::atomic<int> attempts{0}, claimed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string why;
      for (int k = 0; k < kPerThread; ++k) {
        regs[t].push_back(reader_registration::claim(ring, "t" + std::to_string(t), why));
        if (regs[t].back().valid()) claimed.fetch_add(1);
        attempts.fetch_add(1);
      }
      for (std::uint64_t i = 1; !stop.load(std::memory_order_relaxed); ++i)
        for (auto& r : regs[t]) r.update(i * 16, i);
    });
  }
  std::thread tool([&] {  // what shmcat does, concurrently with the claims and updates
    while (!stop.load(std::memory_order_relaxed)) {
      for (const reader_entry& e : readers_of(ring)) CHECK(e.pid == getpid());
    }
  });
  while (attempts.load() < kThreads * kPerThread) std::this_thread::yield();  // each thread makes them all
  stop.store(true);
  for (auto& th : threads) th.join();
  tool.join();
  CHECK(claimed.load() == static_cast<int>(kReaderTableSlots));
  std::set<std::uint32_t> slots;
  for (const auto& per : regs)
    for (const auto& r : per) slots.insert(r.slot());
  CHECK(slots.size() == kReaderTableSlots);
  std::string why;
  CHECK_FALSE(reader_registration::claim(ring, "late", why).valid());
  CHECK(readers_of(ring).size() == kReaderTableSlots);
}
