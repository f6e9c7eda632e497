// The feeder's status block and its control block: names, layout, one writer each, the
// acknowledgement handshake, a last-error text that is never torn, and restart adoption.
#include "bus/feeder_block.hpp"
#include "bus/spsc_ring.hpp"
#include "tests/support/unique_bus.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

using namespace mdbus;
using mdbus::test::unique_bus;

TEST_CASE("feeder block names follow mdbus.<bus>.feed.<venue>.<slot>[.status|.control]") {
  CHECK(feeder_object(venue::okx, slot_id::b) == "feed.okx.B");
  CHECK(feeder_ring_name("prod", venue::binance, slot_id::a) == "mdbus.prod.feed.binance.A");
  CHECK(feeder_status_name("prod", venue::binance, slot_id::a) == "mdbus.prod.feed.binance.A.status");
  CHECK(feeder_control_name("prod", venue::okx, slot_id::b) == "mdbus.prod.feed.okx.B.control");
  CHECK_THROWS_AS((void)feeder_status_name("a.b", venue::okx, slot_id::a), segment_error);
}

TEST_CASE("feeder block layouts: a status block is twelve cache lines, a control block one plus the resync and backfill tables") {
  CHECK(kFeederStatusSize == 128 + 768);
  // Per stream slot: an 8-byte resync generation and a 32-byte backfill request.
  CHECK(feeder_control_size(128) == 128 + 64 + 4096 * (8 + 32));
  CHECK(feeder_control_size(1000) == 128 + 64 + 1000 * 32 * (8 + 32));
  // A stream's slot: its symbol's position times 32, plus its channel's position in the
  // venue's descriptor (Binance depth is the 4th channel, OKX books the 4th).
  CHECK(resync_index(0, channel::binance_depth) == 3);
  CHECK(resync_index(2, channel::okx_books) == 2 * 32 + 3);
  CHECK(resync_index(999, channel::okx_books) == 999 * 32 + 3);  // no fixed symbol limit below kMaxResyncSymbols
  CHECK(resync_index(kMaxResyncSymbols, channel::okx_books) == kNoResyncSlot);
  CHECK(resync_index(0, channel::unknown) == kNoResyncSlot);
  CHECK(resync_index(0, static_cast<channel>(200)) == kNoResyncSlot);  // declared by no venue
  CHECK(kFeederErrorSlots >= 11);  // every feed::parse_error reason has a slot
}

TEST_CASE("feeder command word packs a 48-bit sequence, an argument and the command") {
  const auto w = pack_command(0x0000'CDEF'0123'4567ULL, feeder_command::reconnect);
  CHECK(command_seq(w) == 0x0000'CDEF'0123'4567ULL);
  CHECK(command_of(w) == feeder_command::reconnect);
  CHECK(command_arg(w) == 0);
  const auto r = pack_command(7, feeder_command::rotate, static_cast<std::uint8_t>(slot_reason::age_limit));
  CHECK(command_seq(r) == 7);
  CHECK(command_of(r) == feeder_command::rotate);
  CHECK(command_arg(r) == static_cast<std::uint8_t>(slot_reason::age_limit));
  CHECK(pack_command(0, feeder_command::none) == 0);
  CHECK(to_string(feeder_command::disconnect) == "disconnect");
  CHECK(to_string(feeder_state::draining) == "draining");
  CHECK(to_string(command_result::baseline) == "baseline");
}

TEST_CASE("feeder status block: the reader sees state, identity and counters the feeder wrote") {
  unique_bus bus;
  const auto name = feeder_status_name(bus.name(), venue::okx, slot_id::b);
  auto w = feeder_status_writer::create(name, venue::okx, slot_id::b);
  auto r = feeder_status_reader::open(name);
  auto s = r.snapshot();
  CHECK(s.venue_id == venue::okx);
  CHECK(s.slot == slot_id::b);
  CHECK(s.state == feeder_state::starting);
  CHECK(s.reason == slot_reason::startup);
  CHECK(s.pid == getpid());
  CHECK(s.start_time_ns > 0);

  auto& f = w.fields();
  f.connect_time_ns.store(123, std::memory_order_relaxed);
  bump(f.messages, 5);
  bump(f.bytes, 500);
  bump(f.parse_errors[2]);
  bump(f.parse_errors[2]);
  bump(f.reconnects);
  w.set_state(feeder_state::live, slot_reason::none, 456);
  CHECK(r.state() == feeder_state::live);
  s = r.snapshot();
  CHECK(s.connect_time_ns == 123);
  CHECK(s.state_since_ns == 456);
  CHECK(s.messages == 5);
  CHECK(s.bytes == 500);
  CHECK(s.parse_errors[2] == 2);
  CHECK(s.reconnects == 1);
  CHECK(r.segment().writer_state(1'000'000'000, r.segment().header().writer_heartbeat_ns.load()) == writer_liveness::alive);
}

TEST_CASE("feeder status block: only one live feeder per slot") {
  unique_bus bus;
  const auto name = feeder_status_name(bus.name(), venue::binance, slot_id::a);
  auto w = feeder_status_writer::create(name, venue::binance, slot_id::a);
  CHECK_THROWS_WITH_AS(feeder_status_writer::create(name, venue::binance, slot_id::a),
                       doctest::Contains("already has a live writer"), segment_error);
}

TEST_CASE("feeder status block: a restarted feeder adopts the block, keeps the totals, and is a new writer") {
  unique_bus bus;
  const auto name = feeder_status_name(bus.name(), venue::binance, slot_id::a);
  {
    auto w = feeder_status_writer::create(name, venue::binance, slot_id::a);
    bump(w.fields().messages, 42);
    w.set_state(feeder_state::live, slot_reason::none, 1);
  }  // the writer "dies": its lock goes away
  auto r = feeder_status_reader::open(name);
  CHECK(r.segment().writer_state(1'000'000'000, 0) == writer_liveness::dead);
  auto w2 = feeder_status_writer::create(name, venue::binance, slot_id::a);
  const auto s = r.snapshot();
  CHECK(s.messages == 42);
  CHECK(s.state == feeder_state::starting);
  CHECK(r.segment().header().writer_epoch.load() == 2);
}

TEST_CASE("feeder status block: a writer killed with SIGKILL leaves live in its block, and the block reads as down") {
  unique_bus bus;
  const auto name = feeder_status_name(bus.name(), venue::okx, slot_id::a);
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the feeder: live, then killed where it stands
    auto w = feeder_status_writer::create(name, venue::okx, slot_id::a);
    w.set_state(feeder_state::live, slot_reason::startup, 7);
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  auto r = feeder_status_reader::open(name);
  CHECK(r.writer_alive());
  CHECK(r.observed_state() == feeder_state::live);
  CHECK(r.snapshot().state == feeder_state::live);
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::close(ready[0]);
  ::close(ready[1]);
  // What it wrote, and what is observed.
  CHECK(r.state() == feeder_state::live);
  CHECK(!r.writer_alive());
  CHECK(r.observed_state() == feeder_state::down);
  const auto s = r.snapshot();
  CHECK(s.state == feeder_state::down);
  CHECK(!s.writer_alive);
  CHECK(s.reason == slot_reason::process_exit);
  // A feeder that stops cleanly says so on its way out: stopped stays stopped.
  {
    auto w = feeder_status_writer::create(name, venue::okx, slot_id::a);
    w.set_state(feeder_state::stopped, slot_reason::operator_request, 8);
    CHECK(r.observed_state() == feeder_state::stopped);
  }
  CHECK(r.observed_state() == feeder_state::stopped);
  CHECK(r.snapshot().reason == slot_reason::operator_request);
}

TEST_CASE("feeder status block: openers refuse the wrong kind and a block for another slot") {
  unique_bus bus;
  auto ring = spsc_ring_writer::create(feeder_ring_name(bus.name(), venue::okx, slot_id::a), {1 << 16, 1024});
  feeder_status_reader r;
  std::string why;
  CHECK(feeder_status_reader::try_open(feeder_ring_name(bus.name(), venue::okx, slot_id::a), r, why) == attach_status::incompatible);
  CHECK(why.find("expected status_block") != std::string::npos);
  CHECK(feeder_status_reader::try_open(feeder_status_name(bus.name(), venue::okx, slot_id::a), r, why) == attach_status::await);

  auto c = feeder_control_writer::create(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::a, 2);
  feeder_control_reader cr;
  CHECK(feeder_control_reader::try_open(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::b, 2, cr, why) ==
        attach_status::incompatible);
  CHECK(why.find("another venue or slot") != std::string::npos);
  CHECK_FALSE(cr.valid());
  CHECK(feeder_control_reader::try_open(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::a, 2, cr, why) ==
        attach_status::ok);
  CHECK(cr.valid());
  CHECK_THROWS_AS(feeder_control_writer::create(bus.segment("x.control"), venue::unknown, slot_id::a, 2), segment_error);
}

TEST_CASE("feeder control: each command gets the next sequence and the feeder acknowledges it in its status") {
  unique_bus bus;
  auto ctl = feeder_control_writer::create(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::a, 2);
  feeder_control_reader feeder_side;
  std::string why;
  REQUIRE(feeder_control_reader::try_open(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::a,
                                          2, feeder_side, why) == attach_status::ok);
  CHECK(feeder_side.load() == 0);
  const auto w1 = ctl.send(feeder_command::disconnect);
  const auto w2 = ctl.send(feeder_command::connect);
  CHECK(command_seq(w1) == 1);
  CHECK(command_seq(w2) == 2);
  CHECK(feeder_side.load() == w2);

  auto st = feeder_status_writer::create(feeder_status_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::a);
  auto rd = feeder_status_reader::open(feeder_status_name(bus.name(), venue::okx, slot_id::a));
  st.ack(w2, command_result::accepted, 77);
  CHECK(rd.ack_word() == w2);
  const auto s = rd.snapshot();
  CHECK(s.ack_result == command_result::accepted);
  CHECK(s.ack_time_ns == 77);
}

TEST_CASE("feeder control: commanders racing never reuse a sequence number") {
  unique_bus bus;
  auto ctl = feeder_control_writer::create(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::a, 2);
  constexpr int kEach = 20000;
  auto run = [&] {
    for (int i = 0; i < kEach; ++i) (void)ctl.send(feeder_command::reconnect);
  };
  std::thread a(run), b(run);
  a.join();
  b.join();
  CHECK(command_seq(ctl.current()) == 2 * kEach);
}

TEST_CASE("feeder status: last error text is cut to capacity and read back whole") {
  unique_bus bus;
  const auto name = feeder_status_name(bus.name(), venue::okx, slot_id::a);
  auto w = feeder_status_writer::create(name, venue::okx, slot_id::a);
  auto r = feeder_status_reader::open(name);
  CHECK(r.last_error().empty());
  w.set_last_error("tls: certificate verify failed", 5);
  CHECK(r.last_error() == "tls: certificate verify failed");
  CHECK(r.snapshot().last_error_time_ns == 5);
  const std::string long_text(500, 'x');
  w.set_last_error(long_text, 6);
  CHECK(r.last_error() == std::string(kLastErrorCapacity, 'x'));
  w.set_last_error("", 7);
  CHECK(r.last_error().empty());
}

TEST_CASE("feeder status: a reader racing the writer never sees a torn last error") {
  unique_bus bus;
  const auto name = feeder_status_name(bus.name(), venue::okx, slot_id::a);
  auto w = feeder_status_writer::create(name, venue::okx, slot_id::a);
  auto r = feeder_status_reader::open(name);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    // Each text is one repeated letter with a length tied to the letter: a torn read mixes
    // letters or gets a length that does not match its letter.
    for (int i = 0; i < 200000; ++i) {
      const char c = static_cast<char>('a' + i % 26);
      w.set_last_error(std::string(static_cast<std::size_t>(10 + (c - 'a') * 8), c), i);
    }
    done.store(true);
  });
  std::size_t reads = 0, torn = 0;
  while (!done.load()) {
    const std::string s = r.last_error();
    if (s.empty()) continue;
    ++reads;
    const char c = s[0];
    if (s.size() != static_cast<std::size_t>(10 + (c - 'a') * 8) || s.find_first_not_of(c) != std::string::npos) ++torn;
  }
  writer.join();
  CHECK(torn == 0);
  CHECK(reads > 0);
}

TEST_CASE("resync requests: the merger bumps a generation the feeder reads, a wrong block is refused") {
  unique_bus bus;
  const std::string name = feeder_control_name(bus.name(), venue::okx, slot_id::a);
  auto commander = feeder_control_writer::create(name, venue::okx, slot_id::a, 2);
  feeder_resync_requester merger;
  std::string why;
  REQUIRE(feeder_resync_requester::try_open(name, venue::okx, slot_id::a, 2, merger, why) == attach_status::ok);
  feeder_control_reader feeder;
  REQUIRE(feeder_control_reader::try_open(name, venue::okx, slot_id::a, 2, feeder, why) == attach_status::ok);
  const std::size_t i = resync_index(1, channel::okx_books);
  CHECK(feeder.resync_generation(i) == 0);
  CHECK(merger.request(i) == 1);
  CHECK(merger.request(i) == 2);
  CHECK(feeder.resync_generation(i) == 2);
  CHECK(feeder.resync_generation(resync_index(0, channel::okx_books)) == 0);
  CHECK(merger.slots() == 2 * 32);
  CHECK(merger.request(resync_index(2, channel::okx_books)) == 0);  // symbol 3 of 2: beyond the table
  CHECK(feeder.resync_generation(resync_index(2, channel::okx_books)) == 0);
  CHECK(merger.request(kNoResyncSlot) == 0);
  feeder_resync_requester other;
  CHECK(feeder_resync_requester::try_open(name, venue::okx, slot_id::b, 2, other, why) == attach_status::incompatible);
  CHECK(why.find("another venue or slot") != std::string::npos);
  CHECK(feeder_resync_requester::try_open(feeder_control_name(bus.name(), venue::binance, slot_id::a), venue::binance,
                                          slot_id::a, 2, other, why) == attach_status::await);
}

TEST_CASE("feeder control block: the config identity is stamped once, and a process of another config is refused") {
  unique_bus bus;
  const std::string name = feeder_control_name(bus.name(), venue::okx, slot_id::a);
  auto w = feeder_control_writer::create(name, venue::okx, slot_id::a, 2, 0600, 0x1111);
  // The same identity shares the block; none (0) does not care.
  std::string why;
  feeder_resync_requester same;
  CHECK(feeder_resync_requester::try_open(name, venue::okx, slot_id::a, 2, same, why, 0x1111) == attach_status::ok);
  feeder_control_reader any;
  CHECK(feeder_control_reader::try_open(name, venue::okx, slot_id::a, 2, any, why, 0) == attach_status::ok);
  // Another config: its resync slots are positions in another symbol list. Refused, one line.
  feeder_control_reader other;
  CHECK(feeder_control_reader::try_open(name, venue::okx, slot_id::a, 2, other, why, 0x2222) == attach_status::incompatible);
  CHECK(why == "segment " + name +
                   ": made for another configuration (identity 0000000000001111, this process 0000000000002222): the config "
                   "was edited while the bus ran; stop the whole bus and start it again");
  feeder_resync_requester merger;
  CHECK(feeder_resync_requester::try_open(name, venue::okx, slot_id::a, 2, merger, why, 0x2222) == attach_status::incompatible);
  CHECK_THROWS_AS(feeder_control_writer::create_or_share(name, venue::okx, slot_id::a, 2, 0600, 0x2222), segment_error);
}

TEST_CASE("feeder control block: a block made without an identity is stamped by the first commander that has one") {
  unique_bus bus;
  const std::string name = feeder_control_name(bus.name(), venue::binance, slot_id::b);
  auto w = feeder_control_writer::create(name, venue::binance, slot_id::b, 2);
  std::string why;
  feeder_resync_requester first;
  CHECK(feeder_resync_requester::try_open(name, venue::binance, slot_id::b, 2, first, why, 0x3333) == attach_status::ok);
  feeder_control_reader later;
  CHECK(feeder_control_reader::try_open(name, venue::binance, slot_id::b, 2, later, why, 0x4444) == attach_status::incompatible);
}

// Issue 15 "no fixed capacity": the resync table is sized from the venue's symbol count at
// creation, so symbol 129 and beyond get books (the table used to hold 128).
TEST_CASE("feeder control block: the resync table holds as many symbols as the config lists, another count is refused") {
  unique_bus bus;
  const std::string name = feeder_control_name(bus.name(), venue::binance, slot_id::a);
  auto w = feeder_control_writer::create(name, venue::binance, slot_id::a, 1000);
  CHECK(w.segment().size() == feeder_control_size(1000));
  std::string why;
  feeder_resync_requester merger;
  REQUIRE(feeder_resync_requester::try_open(name, venue::binance, slot_id::a, 1000, merger, why) == attach_status::ok);
  feeder_control_reader feeder;
  REQUIRE(feeder_control_reader::try_open(name, venue::binance, slot_id::a, 1000, feeder, why) == attach_status::ok);
  for (const std::size_t si : {std::size_t{0}, std::size_t{128}, std::size_t{500}, std::size_t{999}}) {
    const std::size_t i = resync_index(si, channel::binance_depth);
    CHECK(merger.request(i) == 1);
    CHECK(feeder.resync_generation(i) == 1);
  }
  CHECK(merger.request(resync_index(1000, channel::binance_depth)) == 0);
  // A process whose config lists another number of symbols addresses other slots: refused, one
  // line that says what to do.
  feeder_control_reader other;
  CHECK(feeder_control_reader::try_open(name, venue::binance, slot_id::a, 999, other, why) == attach_status::incompatible);
  CHECK(why == "segment " + name +
                   ": made for another configuration (its resync table holds 1000 symbols, this process has 999): the "
                   "config was edited while the bus ran; stop the whole bus and start it again");
  CHECK_THROWS_AS(feeder_control_writer::create_or_share(name, venue::binance, slot_id::a, 999), segment_error);
  // No symbols, or more than a block holds: refused before anything is made.
  CHECK_THROWS_AS(feeder_control_writer::create(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx,
                                                slot_id::a, 0),
                  segment_error);
  CHECK_THROWS_AS(feeder_control_writer::create(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx,
                                                slot_id::a, kMaxResyncSymbols + 1),
                  segment_error);
}

TEST_CASE("backfill requests: the merger writes ids the feeder reads whole, each request a new generation") {
  unique_bus bus;
  const std::string name = feeder_control_name(bus.name(), venue::binance, slot_id::b);
  auto commander = feeder_control_writer::create(name, venue::binance, slot_id::b, 2);
  feeder_resync_requester merger;
  std::string why;
  REQUIRE(feeder_resync_requester::try_open(name, venue::binance, slot_id::b, 2, merger, why) == attach_status::ok);
  feeder_control_reader feeder;
  REQUIRE(feeder_control_reader::try_open(name, venue::binance, slot_id::b, 2, feeder, why) == attach_status::ok);
  const std::size_t i = resync_index(1, channel::binance_trade);
  CHECK(feeder.backfill(i).generation == 0);  // never asked
  CHECK(merger.request_backfill(i, 100, 250) == 1);
  const backfill_request q = feeder.backfill(i);
  CHECK(q.generation == 1);
  CHECK(q.from == 100);
  CHECK(q.to == 250);
  CHECK(q.skip == 0);
  CHECK(merger.request_backfill(i, 300, 301, 2) == 2);  // a window's fills: the 2 newest are the held trade's
  CHECK(feeder.backfill(i).skip == 2);
  CHECK(feeder.backfill(i).generation == 2);
  CHECK(feeder.backfill(i).from == 300);
  // Its own table: the resync generation of the same slot, and the other slots, are untouched.
  CHECK(feeder.resync_generation(i) == 0);
  CHECK(feeder.backfill(resync_index(0, channel::binance_trade)).generation == 0);
  CHECK(merger.request_backfill(resync_index(2, channel::binance_trade), 1, 2) == 0);  // beyond the table
  CHECK(feeder.backfill(resync_index(2, channel::binance_trade)).generation == 0);
  // The last slot of the table is inside the block.
  CHECK(merger.request_backfill(merger.slots() - 1, 7, 8) == 1);
  CHECK(feeder.backfill(merger.slots() - 1).to == 8);
}

TEST_CASE("backfill requests: a feeder reading while the merger writes never sees ids of two requests") {
  unique_bus bus;
  const std::string name = feeder_control_name(bus.name(), venue::binance, slot_id::a);
  auto commander = feeder_control_writer::create(name, venue::binance, slot_id::a, 1);
  feeder_resync_requester merger;
  std::string why;
  REQUIRE(feeder_resync_requester::try_open(name, venue::binance, slot_id::a, 1, merger, why) == attach_status::ok);
  feeder_control_reader feeder;
  REQUIRE(feeder_control_reader::try_open(name, venue::binance, slot_id::a, 1, feeder, why) == attach_status::ok);
  const std::size_t i = resync_index(0, channel::binance_trade);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> written{0};
  std::thread writer([&] {
    // Request n asks n*10 .. n*10 + n % 7, skip n % 5: a torn read pairs words of two requests.
    for (std::uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
      (void)merger.request_backfill(i, n * 10, n * 10 + n % 7, n % 5);
      written.store(n, std::memory_order_relaxed);
    }
  });
  // Read while the writer writes, until 20 000 reads have seen a request (a loaded machine may
  // schedule the two threads apart for a while: the deadline only bounds a broken run).
  std::size_t reads = 0, torn = 0;
  std::uint64_t last_generation = 0, backwards = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (reads < 20000 && std::chrono::steady_clock::now() < deadline) {
    const backfill_request q = feeder.backfill(i);
    if (q.generation == 0) continue;
    ++reads;
    const std::uint64_t n = q.from / 10;
    if (q.from % 10 != 0 || q.to != q.from + n % 7 || q.skip != n % 5 || n != q.generation) ++torn;
    if (q.generation < last_generation) ++backwards;
    last_generation = q.generation;
  }
  stop.store(true);
  writer.join();
  CHECK(torn == 0);
  CHECK(backwards == 0);
  CHECK(reads == 20000);
  CHECK(feeder.backfill(i).generation == written.load());
}
