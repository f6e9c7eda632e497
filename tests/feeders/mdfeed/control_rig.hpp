#pragma once
// The merger's side of a feeder's control block, for process-level tests of its requests: the
// test is the commander (it creates the control block, as the supervisor does) and the merger
// (it asks for resyncs and backfills with feeder_resync_requester and reads the feeder's ring
// as its SPSC reader). One real mdfeed against exsim over TLS.
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mdbus::test {

/// What the test keeps of each ring record, in ring order.
struct rec {
  record_type type{};
  channel ch{};
  std::string symbol;
  std::uint64_t seq = 0, first_seq = 0;
  std::int64_t prev_seq = 0;
  std::uint8_t flags = 0, book_flags = 0;
  std::uint16_t part = 0;
  slot_state state{};  ///< slot_status records
  // Trades: what a backfilled record must repeat of the stream's.
  std::int64_t px = 0, qty = 0, venue_time_ns = 0;
  std::int8_t px_exp = 0, qty_exp = 0;
  std::uint64_t first_trade = 0, last_trade = 0;
  std::uint32_t trade_count = 0;
  aggressor_side aggressor{};
  gap_record gap{};  ///< gap records
};

inline bool is_book(const rec& r, record_type t, channel ch, const std::string& sym) {
  return r.type == t && r.ch == ch && r.symbol == sym;
}
inline bool from_rest(const rec& r) { return (r.flags & kHeaderFromRest) != 0; }
inline bool last_part(const rec& r) { return (r.book_flags & kBookLastPart) != 0; }

/// exsim, the feeder's control block (made first, as the supervisor does), one feeder, its
/// status and ring.
struct resync_rig {
  unique_bus bus;
  temp_dir dir;
  exsim_process x;
  feed_setup setup;
  venue v;
  feeder_control_writer control;
  feeder_resync_requester merger;
  std::unique_ptr<feeder_process> feeder;
  feeder_status_reader status;
  std::unique_ptr<ring_drain> ring;
  std::vector<rec> records;

  resync_rig(const std::vector<std::string>& exsim_args, const std::string& venue_name, std::vector<std::string> symbols,
             std::vector<std::string> channels)
      : x(tls(exsim_args)), v(*venue_from_string(venue_name)) {
    setup.bus = bus.name();
    setup.venue = venue_name;
    setup.port = x.venue_port();
    setup.binance_rest_port = x.binance_rest_port();
    setup.okx_rest_port = x.okx_rest_port();
    setup.usdm_rest_port = x.usdm_rest_port();
    setup.symbols = std::move(symbols);
    setup.channels = std::move(channels);
    const std::string name = feeder_control_name(bus.name(), v, slot_id::a);
    control = feeder_control_writer::create(name, v, slot_id::a, setup.symbols.size());
    std::string why;
    REQUIRE(feeder_resync_requester::try_open(name, v, slot_id::a, setup.symbols.size(), merger, why) == attach_status::ok);
  }
  ~resync_rig() {
    if (feeder) feeder->stop();
  }

  /// Starts the feeder and waits until it attached the control block.
  void start(const std::vector<std::string>& extra = {}) {
    feeder = std::make_unique<feeder_process>(write_config(dir.file("cfg.json"), setup), setup.venue, "A",
                                              dir.file("feeder.log"), extra);
    status = open_status(bus.name(), v, slot_id::a);
    ring = std::make_unique<ring_drain>(feeder_ring_name(bus.name(), v, slot_id::a));
    REQUIRE(eventually([&] { return status.snapshot().ack_result == command_result::baseline; }, 10s));
  }

  /// Stops the feeder: a clean exit (0, nothing from a sanitizer), the ring still valid.
  void finish() {
    REQUIRE(feeder);
    const int rc = feeder->stop();
    INFO(feeder->log());
    CHECK(rc == 0);
    CHECK(feeder->log().find("Sanitizer") == std::string::npos);
    drain();
    feeder.reset();
  }

  std::uint64_t request(std::size_t symbol_index, channel ch) { return merger.request(resync_index(symbol_index, ch)); }
  std::uint64_t backfill(std::size_t symbol_index, channel ch, std::uint64_t from, std::uint64_t to, std::uint64_t skip = 0) {
    return merger.request_backfill(resync_index(symbol_index, ch), from, to, skip);
  }
  feeder_status_snapshot snap() const { return status.snapshot(); }
  std::string log() const { return feeder ? feeder->log() : std::string(); }

  void drain() {
    ring->poll([&](const record_view& r) {
      rec k;
      k.type = r.type();
      k.ch = r.header().channel_id;
      k.symbol = std::string(r.header().symbol_view());
      k.seq = r.header().seq;
      k.first_seq = r.header().first_seq;
      k.prev_seq = r.header().prev_seq;
      k.flags = r.header().flags;
      if (auto b = r.book()) {
        k.book_flags = b->fixed().book_flags;
        k.part = b->fixed().part_index;
      }
      if (auto s = r.slot_status()) k.state = s->state;
      if (auto t = r.trade()) {
        k.px = t->px_mantissa;
        k.px_exp = t->px_exponent;
        k.qty = t->qty_mantissa;
        k.qty_exp = t->qty_exponent;
        k.first_trade = t->first_trade_id;
        k.last_trade = t->last_trade_id;
        k.trade_count = t->trade_count;
        k.aggressor = t->aggressor;
      }
      k.venue_time_ns = r.header().venue_time_ns;
      if (auto g = r.gap()) k.gap = *g;
      records.push_back(std::move(k));
    });
    REQUIRE(ring->invalid() == 0);
    REQUIRE(ring->corrupt() == 0);
  }
  /// Drains the ring until `pred` holds or `t` passes.
  template <class P>
  bool until(P&& pred, std::chrono::milliseconds t = 15s) {
    return eventually([&] {
      drain();
      return pred();
    }, t);
  }
  std::size_t count(std::size_t from, const std::function<bool(const rec&)>& f) const {
    return static_cast<std::size_t>(std::count_if(records.begin() + static_cast<std::ptrdiff_t>(from), records.end(), f));
  }
  /// Position of the first record at or after `from` that satisfies `f`, or records.size().
  std::size_t find(std::size_t from, const std::function<bool(const rec&)>& f) const {
    for (std::size_t i = from; i < records.size(); ++i)
      if (f(records[i])) return i;
    return records.size();
  }
};

}  // namespace mdbus::test
