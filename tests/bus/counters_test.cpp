#include "bus/counters.hpp"

#include "support/unique_bus.hpp"

#include <doctest/doctest.h>

#include <set>
#include <vector>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace mdbus;

TEST_CASE("counters register, count, and list by name, tools read them read-only") {
  test::unique_bus bus;
  auto owner = counters_segment::create(bus.segment("counters"), 64);
  auto a = owner.register_counter("feeder_messages_total{venue=\"binance\",slot=\"A\"}");
  auto b = owner.register_counter("ring_overflows_total", 7);
  a.add();
  a.add(41);
  b.set(5);
  b.set_max(3);
  CHECK(b.get() == 5);
  b.set_max(9);
  auto tool = counters_segment::open(bus.segment("counters"), access_mode::read_only);
  std::map<std::string, std::int64_t> seen;
  tool.for_each([&](const counter_entry& e) {
    seen[std::string(e.label)] = e.value;
    CHECK(e.owner_pid == getpid());
    CHECK(e.owner_alive);
  });
  CHECK(seen.size() == 2);
  CHECK(seen["feeder_messages_total{venue=\"binance\",slot=\"A\"}"] == 42);
  CHECK(seen["ring_overflows_total"] == 9);
  CHECK(tool.find("ring_overflows_total") == 9);
  CHECK_FALSE(tool.find("nope").has_value());
  CHECK_THROWS_WITH_AS(tool.register_counter("x"), doctest::Contains("read-only"), segment_error);
}

TEST_CASE("registering the same label twice in one process returns the same counter") {
  test::unique_bus bus;
  auto c = counters_segment::create(bus.segment("counters"), 8);
  auto x = c.register_counter("x");
  x.add(3);
  auto y = c.register_counter("x");
  CHECK(y.id() == x.id());
  CHECK(y.get() == 3);
}

TEST_CASE("bad labels and a full segment are refused with the reason") {
  test::unique_bus bus;
  auto c = counters_segment::create(bus.segment("counters"), 2);
  CHECK_THROWS_WITH_AS(c.register_counter(""), doctest::Contains("label must be 1..231"), segment_error);
  CHECK_THROWS_AS(c.register_counter(std::string(232, 'x')), segment_error);
  (void)c.register_counter("one");
  (void)c.register_counter("two");
  CHECK_THROWS_WITH_AS(c.register_counter("three"), doctest::Contains("all 2 counters are in use"), segment_error);
  CHECK_THROWS_WITH_AS(counters_segment::create(bus.segment("c2"), 0), doctest::Contains("out of range"),
                       segment_error);
}

TEST_CASE("released slots are reused") {
  test::unique_bus bus;
  auto c = counters_segment::create(bus.segment("counters"), 1);
  auto x = c.register_counter("x");
  c.release(x);
  auto y = c.register_counter("y");
  CHECK(y.id() == 0);
  CHECK(y.get() == 0);
}

// register_counter indexes the labels once; the index must never hand out a slot that was
// released and reused under another label, nor lose the process's own counters.
TEST_CASE("registration after a release and reuse under another label gets a slot of its own, never the other label's") {
  test::unique_bus bus;
  auto c = counters_segment::create(bus.segment("counters"), 4);
  auto a = c.register_counter("a");
  a.add(3);
  CHECK(c.register_counter("a").id() == a.id());  // indexed: the same counter
  c.release(a);
  auto b = c.register_counter("b");  // takes the freed slot (the only one before the hint wraps)
  b.add(7);
  auto a2 = c.register_counter("a");  // the index's slot now says "b": a new slot for "a"
  CHECK(a2.id() != b.id());
  CHECK(a2.get() == 0);
  CHECK(c.find("b") == 7);
  CHECK(c.find("a") == 0);
  // A reader keeps the slot: its value while the label holds, nothing once it changed hands.
  const auto at = c.locate("b");
  REQUIRE(at.has_value());
  CHECK(*at == b.id());
  CHECK(c.value_if(*at, "b") == 7);
  CHECK_FALSE(c.value_if(*at, "a").has_value());
  c.release(b);
  CHECK_FALSE(c.value_if(*at, "b").has_value());
  CHECK_FALSE(c.value_if(1000, "b").has_value());
  CHECK_FALSE(c.locate("b").has_value());
  // Thousands of labels, each found again as the same counter.
  auto big = counters_segment::create(bus.segment("big"), 20000);
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back(big.register_counter("merge.okx.books.S" + std::to_string(i) + ".gaps").id());
  CHECK(std::set<std::uint32_t>(ids.begin(), ids.end()).size() == 20000);
  CHECK(big.register_counter("merge.okx.books.S19999.gaps").id() == ids.back());
  CHECK_THROWS_AS(big.register_counter("one too many"), segment_error);
}

TEST_CASE("a restarted process takes over its dead predecessor's counter and the total carries on") {
  test::unique_bus bus;
  auto owner = counters_segment::create(bus.segment("counters"), 16);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto c = counters_segment::open(bus.segment("counters"), access_mode::read_write);
    c.register_counter("reconnects_total").add(5);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  bool dead_owner_seen = false;
  owner.for_each([&](const counter_entry& e) { dead_owner_seen = e.label == "reconnects_total" && !e.owner_alive; });
  CHECK(dead_owner_seen);
  auto again = owner.register_counter("reconnects_total");
  CHECK(again.get() == 5);
  again.add();
  CHECK(owner.find("reconnects_total") == 6);
}

TEST_CASE("reclaim_dead frees the counters of processes that are gone") {
  test::unique_bus bus;
  auto owner = counters_segment::create(bus.segment("counters"), 16);
  (void)owner.register_counter("mine");
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto c = counters_segment::open(bus.segment("counters"), access_mode::read_write);
    (void)c.register_counter("theirs_a");
    (void)c.register_counter("theirs_b");
    _exit(0);
  }
  REQUIRE(waitpid(pid, nullptr, 0) == pid);
  CHECK(owner.reclaim_dead() == 2);
  int n = 0;
  owner.for_each([&](const counter_entry&) { ++n; });
  CHECK(n == 1);
}

TEST_CASE("many processes register concurrently without losing or sharing a slot") {
  test::unique_bus bus;
  auto owner = counters_segment::create(bus.segment("counters"), 256);
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto c = counters_segment::open(bus.segment("counters"), access_mode::read_write);
      for (int i = 0; i < 50; ++i) c.register_counter("p" + std::to_string(k) + "_c" + std::to_string(i)).add(k * 1000 + i);
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t p : kids) REQUIRE(waitpid(p, nullptr, 0) == p);
  std::map<std::string, std::int64_t> seen;
  owner.for_each([&](const counter_entry& e) { seen[std::string(e.label)] = e.value; });
  REQUIRE(seen.size() == 200);
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 50; ++i) CHECK(seen["p" + std::to_string(k) + "_c" + std::to_string(i)] == k * 1000 + i);
}

TEST_CASE("a counters segment with an absurd slot count is refused on open") {
  test::unique_bus bus;
  segment_spec spec;
  spec.name = bus.segment("counters");
  spec.kind = segment_kind::counters;
  spec.total_size = 4096;
  spec.geometry = {1u << 30, 0, 0};
  auto s = shm_segment::create_or_adopt(spec);
  CHECK_THROWS_WITH_AS(counters_segment::open(spec.name, access_mode::read_only), doctest::Contains("out of range"),
                       segment_error);
}
