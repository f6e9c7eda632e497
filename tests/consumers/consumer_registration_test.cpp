// The consumer in the ring's reader table: registered by default under its name, its line
// kept current (position, sequence, laps, update time) and freed when it closes; opted out
// on request; and a consumer that cannot register reads exactly as one that did.
#include "mdbus/consumer.hpp"

#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

using namespace mdbus;

namespace {

void publish_trades(broadcast_ring_writer& w, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t id = from; id < to; ++id) {
    auto t = make_record<trade_record>();
    t.header.venue_id = venue::binance;
    t.header.channel_id = channel::binance_trade;
    t.header.seq = id;
    t.header.set_symbol("BTCUSDT");
    REQUIRE(w.write(static_cast<std::uint32_t>(record_type::trade), record_bytes(t)));
  }
}

/// This process's entries in the ring's reader table, as a tool sees them.
std::vector<reader_entry> table_of(const test::unique_bus& bus) {
  reader_table t;
  std::string why;
  REQUIRE_MESSAGE(reader_table::try_open(bus.segment("out"), access_mode::read_only, t, why) == attach_status::ok, why);
  return t.readers();
}

consumer_options options_for(const test::unique_bus& bus, const char* name = "") {
  consumer_options o;
  o.bus = bus.name();
  o.start = start_position::oldest;
  o.reader_name = name;
  return o;
}

}  // namespace

TEST_CASE("a consumer registers under its name and keeps its line current, closing frees it") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});  // 144-byte trade frames
  publish_trades(w, 0, 10);
  std::optional<consumer> c = consumer::open(options_for(bus, "strategy_1"));
  CHECK(c->registered());
  CHECK(c->registration_problem().empty());
  auto e = table_of(bus);
  REQUIRE(e.size() == 1);
  CHECK(e[0].pid == getpid());
  CHECK(e[0].alive);
  CHECK(e[0].name == "strategy_1");
  CHECK(e[0].next_seq == 0);
  CHECK(e[0].update_ns > 0);
  const std::int64_t first_touch = e[0].update_ns;

  for (int i = 0; i < 4; ++i) REQUIRE(c->poll().status == poll_status::record);
  e = table_of(bus);
  CHECK(e[0].next_seq == 4);
  CHECK(e[0].position == 4 * 144);  // what `shmcat info` subtracts from the head: 6 frames behind

  // The update time moves at least every kTouchEvery polls, records or not.
  for (std::uint32_t i = 0; i < reader_registration::kTouchEvery; ++i) (void)c->poll();
  e = table_of(bus);
  CHECK(e[0].next_seq == 10);
  CHECK(e[0].update_ns > first_touch);

  publish_trades(w, 10, 110);  // laps it
  const poll_result lap = c->poll();
  REQUIRE(lap.status == poll_status::lapped);
  e = table_of(bus);
  CHECK(e[0].laps == 1);
  CHECK(e[0].missed_frames == lap.missed_frames);
  CHECK(e[0].next_seq == 10 + lap.missed_frames);

  consumer moved = std::move(*c);  // the registration moves with the consumer
  c.reset();
  CHECK(table_of(bus).size() == 1);
  moved = consumer{};
  CHECK(table_of(bus).empty());
}

TEST_CASE("a consumer without a name registers under the program's, register_reader = false stays out") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
  auto named = consumer::open(options_for(bus));
  auto o = options_for(bus);
  o.register_reader = false;
  auto hidden = consumer::open(o);
  CHECK_FALSE(hidden.registered());
  CHECK(hidden.registration_problem().empty());
  const auto e = table_of(bus);
  REQUIRE(e.size() == 1);
  CHECK(e[0].name == std::string(program_invocation_short_name).substr(0, kReaderNameMax));
}

TEST_CASE("a consumer that cannot register (no table, table full) reads exactly as before and says why") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 256});
  publish_trades(w, 0, 5);
  SUBCASE("no table: a ring from a writer without one") {
    REQUIRE(shm_segment::remove(bus.segment("out") + ".readers"));
    auto c = consumer::open(options_for(bus, "orphan"));
    CHECK_FALSE(c.registered());
    CHECK(c.registration_problem() == "segment " + bus.segment("out") + ".readers: does not exist (yet)");
    for (std::uint64_t i = 0; i < 5; ++i) CHECK(c.poll().record.header().seq == i);
    CHECK(c.poll().status == poll_status::empty);
  }
  SUBCASE("table full") {
    std::vector<consumer> many;
    for (std::uint32_t i = 0; i < kReaderTableSlots; ++i) many.push_back(consumer::open(options_for(bus, "filler")));
    auto c = consumer::open(options_for(bus, "one_too_many"));
    CHECK_FALSE(c.registered());
    CHECK(c.registration_problem().find("all 64 reader slots are taken") != std::string::npos);
    for (std::uint64_t i = 0; i < 5; ++i) CHECK(c.poll().record.header().seq == i);
    many.pop_back();  // a slot frees: the next consumer gets it
    CHECK(consumer::open(options_for(bus, "late")).registered());
  }
}
