// Backfill (issue 16), one rule per case: a trade hole neither slot fills is fetched from the
// venue's history and published in sequence; a failed fetch or the bound passing publishes a
// gap record saying so, and trades that come after it are dropped and counted; other streams
// never wait for it.
#include "tests/bus/merge/arbiter_harness.hpp"

using namespace mdbus;
using namespace mdbus::merge;
using namespace mdbus::merge::testing;

namespace {

constexpr std::int64_t kBound = 50'000'000;

struct backfill_harness : harness {
  backfill_harness() : harness(with_bound()) { out.backfill_reachable = true; }
  static arbiter_options with_bound() {
    arbiter_options o;
    o.backfill_bound_ns = kBound;
    return o;
  }
  /// 1, 2 from both slots; 3, 4 lost on both; 5, 6 from A only (B is down).
  void both_lose_3_and_4(const stream_maker& t) {
    for (std::uint64_t id : {1, 2}) {
      offer(t.trade(id, A), A);
      offer(t.trade(id, B), B);
    }
    offer(t.trade(5, A), A);
    offer(t.trade(6, A), A);
  }
};

}  // namespace

TEST_CASE("backfill: a hole neither slot fills is asked of the delivering slot's feeder, then published in sequence") {
  backfill_harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  const stream_maker other{channel::binance_trade, "ETHUSDT"};
  h.both_lose_3_and_4(t);
  CHECK(h.out.trace() == "1A 2A");
  h.wait_out_window();
  REQUIRE(h.out.backfills.size() == 1);
  CHECK(h.out.backfills[0].stream == "binance/trade/BTCUSDT");
  CHECK(h.out.backfills[0].from == 3);
  CHECK(h.out.backfills[0].to == 5);  // up to the highest id held, so every hole behind it is covered
  CHECK(h.out.backfills[0].ask == A);
  CHECK(h.out.items.size() == 2);      // no gap record: the stream waits for the backfill
  CHECK(h.arb.next_deadline() > h.now);
  // Another stream is not held meanwhile.
  h.offer(other.trade(7, B), B);
  CHECK(h.out.trace() == "1A 2A 7B");
  h.offer(t.backfilled(3, A), A);
  h.offer(t.backfilled(4, A), A);
  h.offer(t.backfilled(5, A), A);  // the hold already had 5: a duplicate
  CHECK(h.out.trace() == "1A 2A 7B 3Ar 4Ar 5A 6A");
  const auto& s = *h.arb.stream(venue::binance, channel::binance_trade, "BTCUSDT");
  CHECK(s.backfill_requests == 1);
  CHECK(s.backfilled == 2);
  CHECK(s.gaps == 0);
  CHECK(s.backfill_gaps == 0);
  CHECK(h.arb.stats().backfilled == 2);
  CHECK(h.arb.next_deadline() == std::numeric_limits<std::int64_t>::max());  // nothing held, nothing pending
  // The stream goes on; the bound passing later changes nothing.
  h.offer(t.trade(7, B), B);
  h.now += kBound;
  h.arb.tick(h.now);
  CHECK(h.out.trace() == "1A 2A 7B 3Ar 4Ar 5A 6A 7B");
}

TEST_CASE("backfill: the other slot filling the hole first makes the fetched trades duplicates, not late") {
  backfill_harness h;
  const stream_maker t{channel::binance_agg_trade, "BTCUSDT"};
  h.both_lose_3_and_4(t);
  h.wait_out_window();
  REQUIRE(h.out.backfills.size() == 1);
  h.offer(t.trade(3, B), B);  // B had them after all, only later than the window
  h.offer(t.trade(4, B), B);
  h.offer(t.backfilled(3, A), A);
  h.offer(t.backfilled(4, A), A);
  CHECK(h.out.trace() == "1A 2A 3B 4B 5A 6A");
  const auto& s = *h.arb.stream(venue::binance, channel::binance_agg_trade, "BTCUSDT");
  CHECK(s.backfilled == 0);
  CHECK(s.backfill_late == 0);
  CHECK(s.duplicates[0] == 2);  // A's 3, 4 (REST) were B's
  CHECK(s.duplicates[1] == 2);  // B's 1, 2 were A's
}

TEST_CASE("backfill: a feeder that could not fetch the trades ends the wait with a backfill_failed gap record") {
  backfill_harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.both_lose_3_and_4(t);
  h.wait_out_window();
  h.offer(t.backfill_failed(2, 6, A), A);  // e.g. HTTP 418 twice: nothing of 3..5
  CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A");
  CHECK(h.out.items[2].gap.reason == gap_reason::backfill_failed);
  CHECK(h.out.items[2].gap.held_ns >= kWindow);
  const auto& s = *h.arb.stream(venue::binance, channel::binance_trade, "BTCUSDT");
  CHECK(s.backfill_gaps == 1);
  CHECK(h.arb.stats().feeder_gaps == 1);
  // A feeder's gap record never reaches the output as it is, even when nothing waits for it.
  h.offer(t.backfill_failed(6, 9, B), B);
  CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A");
}

TEST_CASE("backfill: the venue no longer keeping the oldest ids gives a gap up to the first it keeps, the rest is backfilled") {
  backfill_harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.both_lose_3_and_4(t);
  h.wait_out_window();
  h.offer(t.backfill_failed(2, 4, A), A);  // the history starts at 4
  CHECK(h.out.trace() == "1A 2A gap(2>4)");
  CHECK(h.out.items[2].gap.reason == gap_reason::backfill_failed);
  h.offer(t.backfilled(4, A), A);
  CHECK(h.out.trace() == "1A 2A gap(2>4) 4Ar 5A 6A");
  CHECK(h.arb.stream(venue::binance, channel::binance_trade, "BTCUSDT")->backfilled == 1);
}

TEST_CASE("backfill: the bound passing publishes a backfill_timeout gap record, trades fetched after it are dropped and counted") {
  backfill_harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.both_lose_3_and_4(t);
  h.wait_out_window();
  CHECK(h.arb.next_deadline() <= h.now + kBound);
  h.now += kBound - 1000;
  h.arb.tick(h.now);
  CHECK(h.out.trace() == "1A 2A");  // still within the bound
  h.now += 1000;
  h.arb.tick(h.now);
  CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A");
  CHECK(h.out.items[2].gap.reason == gap_reason::backfill_timeout);
  h.offer(t.backfilled(3, A), A);
  h.offer(t.backfilled(4, A), A);
  h.offer(t.backfilled(5, A), A);  // was published: an ordinary duplicate
  CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A");
  const auto& s = *h.arb.stream(venue::binance, channel::binance_trade, "BTCUSDT");
  CHECK(s.backfill_late == 2);
  CHECK(h.arb.stats().backfill_late == 2);
  CHECK(s.duplicates[0] == 1);  // A's 5 (REST) was published: a duplicate, not late
}

TEST_CASE("backfill: without a feeder to ask, or on a stream whose ids reveal no holes, the window ends in a gap as before") {
  SUBCASE("no feeder reachable") {
    backfill_harness h;
    h.out.backfill_reachable = false;
    const stream_maker t{channel::binance_trade, "BTCUSDT"};
    h.both_lose_3_and_4(t);
    h.wait_out_window();
    CHECK(h.out.backfills.size() == 1);
    CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A");
    CHECK(h.out.items[2].gap.reason == gap_reason::hole_timeout);
  }
  SUBCASE("bound 0: backfill off") {
    arbiter_options o;
    o.backfill_bound_ns = 0;
    harness h(o);
    h.out.backfill_reachable = true;
    const stream_maker t{channel::binance_trade, "BTCUSDT"};
    for (std::uint64_t id : {1, 2, 5}) h.offer(t.trade(id, A), A);
    h.wait_out_window();
    CHECK(h.out.backfills.empty());
    CHECK(h.out.trace() == "1A 2A gap(2>5) 5A");
  }
  SUBCASE("a channel whose venue keeps no history by id (USD-M trade) is not asked for") {
    backfill_harness h;
    const stream_maker t{channel::usdm_trade, "BTCUSDT"};
    h.both_lose_3_and_4(t);
    h.wait_out_window();
    CHECK(h.out.backfills.empty());
    CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A");
    CHECK(h.out.items[2].gap.reason == gap_reason::hole_timeout);
  }
  SUBCASE("a book stream is resynced, never backfilled") {
    backfill_harness h;
    const stream_maker d{channel::okx_books, "BTC-USDT"};
    h.offer(d.book(record_type::book_snapshot, 0, 10, -1, A), A);
    h.offer(d.book(record_type::book_delta, 0, 12, 11, A), A);  // 11 lost
    h.wait_out_window();
    CHECK(h.out.backfills.empty());
    CHECK(h.out.trace() == "10A gap(10>12)");
  }
}

TEST_CASE("backfill: a second hole after the first was repaired gets its own request") {
  backfill_harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.both_lose_3_and_4(t);
  h.wait_out_window();
  for (std::uint64_t id : {3, 4}) h.offer(t.backfilled(id, A), A);
  h.offer(t.trade(9, A), A);  // 7, 8 lost
  h.wait_out_window();
  REQUIRE(h.out.backfills.size() == 2);
  CHECK(h.out.backfills[1].from == 7);
  CHECK(h.out.backfills[1].to == 8);
  for (std::uint64_t id : {7, 8}) h.offer(t.backfilled(id, A), A);
  CHECK(h.out.trace() == "1A 2A 3Ar 4Ar 5A 6A 7Ar 8Ar 9A");
  CHECK(h.arb.stats().backfill_requests == 2);
  CHECK(h.arb.stats().gaps == 0);
}

TEST_CASE("backfill: a hole behind the one asked for gets its own request once the first is filled, not the first's bound") {
  backfill_harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.both_lose_3_and_4(t);
  h.wait_out_window();
  REQUIRE(h.out.backfills.size() == 1);  // 3..5
  h.offer(t.trade(9, A), A);             // 7, 8 lost too, after the request went out
  for (std::uint64_t id : {3, 4}) h.offer(t.backfilled(id, A), A);
  CHECK(h.out.trace() == "1A 2A 3Ar 4Ar 5A 6A");
  // Past what was asked: 9 waits a window, not what is left of the 50 ms bound.
  CHECK(h.arb.next_deadline() <= h.now + kWindow);
  h.wait_out_window();
  REQUIRE(h.out.backfills.size() == 2);
  CHECK(h.out.backfills[1].from == 7);
  CHECK(h.out.backfills[1].to == 8);
  for (std::uint64_t id : {7, 8}) h.offer(t.backfilled(id, A), A);
  CHECK(h.out.trace() == "1A 2A 3Ar 4Ar 5A 6A 7Ar 8Ar 9A");
  CHECK(h.arb.stats().gaps == 0);
}

TEST_CASE("backfill: a feeder's failure for an earlier request does not end the one under way") {
  backfill_harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.both_lose_3_and_4(t);
  h.wait_out_window();  // asks 3..5
  h.offer(t.backfill_failed(1, 4, A), A);  // names ids from 2: an older request's word
  CHECK(h.out.trace() == "1A 2A");
  for (std::uint64_t id : {3, 4}) h.offer(t.backfilled(id, A), A);
  CHECK(h.out.trace() == "1A 2A 3Ar 4Ar 5A 6A");
  CHECK(h.arb.stats().feeder_gaps == 1);
  CHECK(h.arb.stats().gaps == 0);
}

// ---- A suspect window's OKX trades: ids that cannot show a hole, the venue's fills by id ----

namespace {

/// OKX trades of one instrument: aggregated trades 3 (fills 1..3) and 5 (4..5) published from
/// both slots; then every slot of the group was down (both reset) and the window closed.
struct window_harness : backfill_harness {
  const stream_maker t{channel::okx_trades, "BTC-USDT"};
  std::size_t index = add();
  std::size_t add() { return arb.add_stream(venue::okx, channel::okx_trades, "BTC-USDT"); }
  void before_the_window() {
    for (const slot_id s : {A, B}) {
      offer(t.aggregated(3, 3, s), s);
      offer(t.aggregated(5, 2, s), s);
    }
    arb.slot_reset(venue::okx, A);
    arb.slot_reset(venue::okx, B);
  }
};

}  // namespace

TEST_CASE("window backfill: the first trade after a suspect window is held until the fills between arrive, in order") {
  window_harness h;
  h.before_the_window();
  CHECK(h.arb.await_window_backfill(h.index));
  // Lost in the window: trades 8 (fills 6..8) and 9. The first one after it: 12 (fills 10..12).
  h.offer(h.t.aggregated(12, 3, B), B);
  REQUIRE(h.out.backfills.size() == 1);
  CHECK(h.out.backfills[0].stream == "okx/trades/BTC-USDT");
  CHECK(h.out.backfills[0].from == 6);
  CHECK(h.out.backfills[0].to == 11);
  CHECK(h.out.backfills[0].skip == 2);  // fills 10 and 11 are trade 12's
  CHECK(h.out.backfills[0].ask == B);
  CHECK(h.out.trace() == "3A 5A");  // 12 waits
  h.offer(h.t.aggregated(13, 1, A), A);  // A is back too: waits behind the fills as well
  h.offer(h.t.aggregated(12, 3, A), A);
  for (std::uint64_t id : {6, 7, 8, 9}) h.offer(h.t.backfilled(id, B), B);
  CHECK(h.out.trace() == "3A 5A 6Br 7Br 8Br 9Br");  // fills go out as they come
  h.offer(h.t.backfill_done(5, 12, B), B);
  CHECK(h.out.trace() == "3A 5A 6Br 7Br 8Br 9Br 12B 13A");
  const auto& s = *h.arb.stream(venue::okx, channel::okx_trades, "BTC-USDT");
  CHECK(s.backfilled == 4);
  CHECK(s.gaps == 0);
  CHECK(s.duplicates[0] == 1);  // A's 12 (its 3 and 5 won)
  CHECK(h.arb.next_deadline() == std::numeric_limits<std::int64_t>::max());
  // The next trade after that is no window's: published at once.
  h.offer(h.t.aggregated(14, 1, B), B);
  CHECK(h.out.trace() == "3A 5A 6Br 7Br 8Br 9Br 12B 13A 14B");
  CHECK(h.out.backfills.size() == 1);
}

TEST_CASE("window backfill: fills older than the venue keeps give a backfill_failed gap, then the fills it has") {
  window_harness h;
  h.before_the_window();
  REQUIRE(h.arb.await_window_backfill(h.index));
  h.offer(h.t.aggregated(12, 3, A), A);
  REQUIRE(h.out.backfills.size() == 1);
  h.offer(h.t.backfill_failed(5, 8, A), A);  // fills 6, 7 are gone
  CHECK(h.out.trace() == "3A 5A gap(5>8)");
  CHECK(h.out.items.back().gap.reason == gap_reason::backfill_failed);
  h.offer(h.t.backfilled(8, A), A);
  h.offer(h.t.backfilled(9, A), A);
  h.offer(h.t.backfill_done(5, 12, A), A);
  CHECK(h.out.trace() == "3A 5A gap(5>8) 8Ar 9Ar 12A");
  CHECK(h.arb.stats().backfill_gaps == 1);
}

TEST_CASE("window backfill: a feeder that fetched nothing ends the wait with a gap up to the held trade") {
  window_harness h;
  h.before_the_window();
  REQUIRE(h.arb.await_window_backfill(h.index));
  h.offer(h.t.aggregated(12, 3, A), A);
  h.offer(h.t.backfill_failed(4, 12, A), A);  // an older request's word: ignored
  CHECK(h.out.trace() == "3A 5A");
  h.offer(h.t.backfill_failed(5, 12, A), A);
  CHECK(h.out.trace() == "3A 5A gap(5>12) 12A");
  CHECK(h.out.items[2].gap.reason == gap_reason::backfill_failed);
}

TEST_CASE("window backfill: the bound passing gives a backfill_timeout gap, fills after it are dropped and counted") {
  window_harness h;
  h.before_the_window();
  REQUIRE(h.arb.await_window_backfill(h.index));
  h.offer(h.t.aggregated(12, 3, A), A);
  h.offer(h.t.backfilled(6, A), A);
  const std::int64_t bound = h.arb.next_deadline();
  h.now = bound - 1;
  h.arb.tick(h.now);
  CHECK(h.out.trace() == "3A 5A 6Ar");
  h.now = bound;
  h.arb.tick(h.now);
  CHECK(h.out.trace() == "3A 5A 6Ar gap(6>12) 12A");
  CHECK(h.out.items[3].gap.reason == gap_reason::backfill_timeout);
  h.offer(h.t.backfilled(7, A), A);
  h.offer(h.t.backfill_done(5, 12, A), A);
  CHECK(h.out.trace() == "3A 5A 6Ar gap(6>12) 12A");
  const auto& s = *h.arb.stream(venue::okx, channel::okx_trades, "BTC-USDT");
  CHECK(s.backfill_late == 1);
  CHECK(s.backfill_gaps == 1);
}

TEST_CASE("window backfill: only OKX trades that published before the window wait, and without a feeder the trade goes out") {
  window_harness h;
  // Nothing published yet: nothing to fetch from.
  CHECK_FALSE(h.arb.await_window_backfill(h.index));
  // A stream whose venue keeps no history of it (OKX tickers, Binance bookTicker).
  const std::size_t bbo = h.arb.add_stream(venue::binance, channel::binance_book_ticker, "BTCUSDT");
  CHECK_FALSE(h.arb.await_window_backfill(bbo));
  h.before_the_window();
  REQUIRE(h.arb.await_window_backfill(h.index));
  h.out.backfill_reachable = false;  // no control block to ask
  h.offer(h.t.aggregated(12, 3, A), A);
  CHECK(h.out.backfills.size() == 1);
  CHECK(h.out.trace() == "3A 5A 12A");
  // The trade right after the last one (no id between): nothing to ask.
  window_harness k;
  k.before_the_window();
  REQUIRE(k.arb.await_window_backfill(k.index));
  k.offer(k.t.aggregated(6, 1, A), A);
  CHECK(k.out.backfills.empty());
  CHECK(k.out.trace() == "3A 5A 6A");
}
