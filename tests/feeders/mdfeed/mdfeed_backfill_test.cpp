// The merger's backfill requests (issue 16), served by a real mdfeed against exsim over TLS:
// the test asks for trade ids through the control block's backfill table, as the merger does,
// and reads the feeder's ring. What comes back must be the stream's own trades, flagged
// kHeaderBackfilled; what exsim's history no longer keeps must come back as a gap record.
#include "tests/feeders/mdfeed/control_rig.hpp"

#include <map>

using namespace mdbus;
using namespace mdbus::test;

namespace {

const std::vector<std::string> kSymbols = {"BTCUSDT", "ETHUSDT"};
const std::vector<std::string> kChannels = {"trade", "aggTrade"};

bool backfilled(const rec& r) { return (r.flags & kHeaderBackfilled) != 0; }

auto stream_trade(channel ch, const std::string& sym) {
  return [ch, sym](const rec& r) { return r.type == record_type::trade && r.ch == ch && r.symbol == sym && !backfilled(r); };
}

/// Highest id of a stream's trades from the stream so far.
std::uint64_t highest(const resync_rig& r, channel ch, const std::string& sym) {
  std::uint64_t h = 0;
  for (const rec& k : r.records)
    if (stream_trade(ch, sym)(k)) h = std::max(h, k.seq);
  return h;
}

/// Lowest id of a stream's trades from the stream (exsim's ids start where its seed puts them).
std::uint64_t lowest(const resync_rig& r, channel ch, const std::string& sym) {
  std::uint64_t l = UINT64_MAX;
  for (const rec& k : r.records)
    if (stream_trade(ch, sym)(k)) l = std::min(l, k.seq);
  return l;
}

/// Every backfilled trade of `ch`/`sym` in the ring, by id, and how many there were.
std::map<std::uint64_t, rec> backfills_of(const resync_rig& r, channel ch, const std::string& sym, std::size_t& count) {
  std::map<std::uint64_t, rec> m;
  count = 0;
  for (const rec& k : r.records)
    if (k.type == record_type::trade && k.ch == ch && k.symbol == sym && backfilled(k)) {
      m.emplace(k.seq, k);
      ++count;
    }
  return m;
}

/// A backfilled trade repeats the stream's record of the same id: price, quantity, side, ids;
/// exsim's trade time is its event time, so the time too.
void check_same(const rec& stream, const rec& fill) {
  INFO("id " << stream.seq);
  CHECK(fill.px == stream.px);
  CHECK(fill.px_exp == stream.px_exp);
  CHECK(fill.qty == stream.qty);
  CHECK(fill.qty_exp == stream.qty_exp);
  CHECK(fill.aggressor == stream.aggressor);
  CHECK(fill.trade_count == stream.trade_count);
  CHECK(fill.first_trade == stream.first_trade);
  CHECK(fill.last_trade == stream.last_trade);
  CHECK(fill.first_seq == stream.first_seq);
  CHECK(fill.venue_time_ns == stream.venue_time_ns);
  CHECK((fill.flags & ~kHeaderBackfilled) == stream.flags);
}

}  // namespace

TEST_CASE("mdfeed backfill binance: ids asked through the control block come back from the venue's history as the stream's own trades, paged") {
  resync_rig r({"--rate", "1500"}, "binance", kSymbols, kChannels);
  r.start();
  // Enough history for two pages of trades (historicalTrades gives at most 1000 a page).
  REQUIRE(r.until([&] { return highest(r, channel::binance_trade, "BTCUSDT") > 0; }, 30s));
  REQUIRE(r.until([&] { return highest(r, channel::binance_agg_trade, "ETHUSDT") > 0; }, 30s));
  const std::uint64_t t0 = lowest(r, channel::binance_trade, "BTCUSDT");
  const std::uint64_t a0 = lowest(r, channel::binance_agg_trade, "ETHUSDT");
  REQUIRE(r.until([&] { return highest(r, channel::binance_trade, "BTCUSDT") >= t0 + 1600; }, 60s));
  REQUIRE(r.until([&] { return highest(r, channel::binance_agg_trade, "ETHUSDT") >= a0 + 60; }, 30s));
  const std::size_t p0 = r.records.size();

  // The stream gave all of these: ids t0+2..t0+1500 and a0+10..a0+50.
  CHECK(r.backfill(0, channel::binance_trade, t0 + 2, t0 + 1500) == 1);
  CHECK(r.backfill(1, channel::binance_agg_trade, a0 + 10, a0 + 50) == 1);
  std::size_t trades = 0, aggs = 0;
  REQUIRE(r.until([&] {
    (void)backfills_of(r, channel::binance_trade, "BTCUSDT", trades);
    (void)backfills_of(r, channel::binance_agg_trade, "ETHUSDT", aggs);
    return trades >= 1499 && aggs >= 41;
  }));
  const auto fills = backfills_of(r, channel::binance_trade, "BTCUSDT", trades);
  const auto agg_fills = backfills_of(r, channel::binance_agg_trade, "ETHUSDT", aggs);
  // Exactly the ids asked, each once, in id order in the ring.
  CHECK(trades == 1499);
  CHECK(aggs == 41);
  CHECK(fills.begin()->first == t0 + 2);
  CHECK(fills.rbegin()->first == t0 + 1500);
  CHECK(agg_fills.begin()->first == a0 + 10);
  CHECK(agg_fills.rbegin()->first == a0 + 50);
  std::uint64_t last = 0;
  for (std::size_t i = p0; i < r.records.size(); ++i) {
    const rec& k = r.records[i];
    if (k.ch != channel::binance_trade || !backfilled(k)) continue;
    CHECK(k.seq == (last == 0 ? t0 + 2 : last + 1));
    last = k.seq;
  }
  // Each one the stream's record of the same id (the stream gave all of them earlier).
  for (const rec& k : r.records) {
    if (stream_trade(channel::binance_trade, "BTCUSDT")(k) && fills.count(k.seq) != 0) check_same(k, fills.at(k.seq));
    if (stream_trade(channel::binance_agg_trade, "ETHUSDT")(k) && agg_fills.count(k.seq) != 0) check_same(k, agg_fills.at(k.seq));
  }
  const feeder_status_snapshot s = r.snap();
  CHECK(s.backfill_requests == 2);
  CHECK(s.backfill_pages == 3);  // 1000 + 499 trades, 41 aggTrades
  CHECK(s.backfilled_trades == 1499 + 41);
  CHECK(s.backfill_failures == 0);
  CHECK(r.count(0, [](const rec& k) { return k.type == record_type::gap; }) == 0);
  r.finish();
}

TEST_CASE("mdfeed backfill binance: ids older than the venue keeps come back as a backfill_failed gap record up to the first it keeps") {
  resync_rig r({"--rate", "1000", "--trade-history", "100"}, "binance", kSymbols, kChannels);
  r.start();
  REQUIRE(r.until([&] { return highest(r, channel::binance_trade, "BTCUSDT") > 0; }, 30s));
  const std::uint64_t t0 = lowest(r, channel::binance_trade, "BTCUSDT");
  REQUIRE(r.until([&] { return highest(r, channel::binance_trade, "BTCUSDT") >= t0 + 400; }, 30s));
  const std::uint64_t top = highest(r, channel::binance_trade, "BTCUSDT");
  // exsim keeps the last 100 trades: ids t0..top-1 ask for far more. The gap names what the
  // history no longer has, the rest is backfilled.
  CHECK(r.backfill(0, channel::binance_trade, t0, top - 1) == 1);
  // The gap record first, then the trades the history keeps, from its first id. (exsim's
  // history rolls on meanwhile: the next page may start later still, and say so again.)
  auto is_gap = [](const rec& k) { return k.type == record_type::gap; };
  REQUIRE(r.until([&] { return r.snap().backfill_failures >= 1 && r.count(0, is_gap) >= 1; }));
  std::size_t trades = 0;
  std::map<std::uint64_t, rec> fills;
  REQUIRE(r.until([&] {
    fills = backfills_of(r, channel::binance_trade, "BTCUSDT", trades);
    return !fills.empty() && fills.rbegin()->first == top - 1;
  }));
  const std::size_t first_fill = r.find(0, [](const rec& k) { return k.type == record_type::trade && backfilled(k); });
  std::uint64_t held = t0 - 1;
  std::size_t gaps = 0;
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    const rec& k = r.records[i];
    if (!is_gap(k)) continue;
    ++gaps;
    INFO("gap " << gaps);
    CHECK(i < first_fill);  // every gap record before the trades that follow it
    CHECK(k.gap.reason == gap_reason::backfill_failed);
    CHECK(k.ch == channel::binance_trade);
    CHECK(k.symbol == "BTCUSDT");
    CHECK(k.gap.last_seq_held == held);  // each names the ids from where the last one ended
    CHECK(k.gap.first_seq_after > k.gap.last_seq_held + 1);
    CHECK(k.gap.first_seq_after <= top);
    held = k.gap.first_seq_after - 1;
  }
  CHECK(r.snap().backfill_failures == gaps);
  // What the history still had is backfilled, from the first id it keeps, each id once.
  CHECK(fills.begin()->first == held + 1);
  CHECK(trades == top - 1 - held);
  CHECK(r.log().find("older than the venue's history") != std::string::npos);
  r.finish();
}

TEST_CASE("mdfeed backfill: a channel without history and an index out of the table are ignored, the feeder runs on") {
  resync_rig r({"--rate", "500"}, "binance", kSymbols, {"trade", "bookTicker"});
  r.start();
  REQUIRE(r.until([&] { return highest(r, channel::binance_trade, "ETHUSDT") > 0; }, 30s));
  const std::uint64_t t0 = lowest(r, channel::binance_trade, "ETHUSDT");
  REQUIRE(r.until([&] { return highest(r, channel::binance_trade, "ETHUSDT") >= t0 + 5; }, 30s));
  CHECK(r.backfill(0, channel::binance_book_ticker, 1, 5) == 1);  // bookTicker ids reveal no holes: no history to ask
  CHECK(r.merger.request_backfill(r.merger.slots(), 1, 5) == 0);   // beyond the table
  CHECK(r.backfill(1, channel::binance_trade, t0 + 3, t0 + 4) == 1);
  REQUIRE_MESSAGE(r.until([&] { return r.snap().backfilled_trades == 2; }), r.log());
  CHECK(r.snap().backfill_requests == 1);  // only the trade stream's slot is watched
  CHECK(r.snap().backfill_failures == 0);
  r.finish();
}

TEST_CASE("mdfeed backfill okx: the fills between two trades come back oldest first, less the later trade's own, then backfill_done") {
  resync_rig r({"--rate", "1500"}, "okx", {"BTC-USDT", "ETH-USDT"}, {"trades"});
  r.start();
  const auto btc = stream_trade(channel::okx_trades, "BTC-USDT");
  REQUIRE(r.until([&] { return highest(r, channel::okx_trades, "BTC-USDT") > 0; }, 30s));
  const std::uint64_t p = lowest(r, channel::okx_trades, "BTC-USDT");
  // More than two pages of fills (history-trades gives at most 100 a page).
  REQUIRE(r.until([&] { return highest(r, channel::okx_trades, "BTC-USDT") >= p + 260; }, 60s));
  // The later trade F: the first one after p + 250. Ask for the fills between p and it, as
  // the merger does after a suspect window: from p + 1 to F - 1, less F's own count - 1.
  const rec f = r.records[r.find(0, [&](const rec& k) { return btc(k) && k.seq > p + 250; })];
  REQUIRE(f.trade_count >= 1);
  CHECK(r.backfill(0, channel::okx_trades, p + 1, f.seq - 1, f.trade_count - 1) == 1);
  auto done = [](const rec& k) { return k.type == record_type::gap && k.gap.reason == gap_reason::backfill_done; };
  REQUIRE_MESSAGE(r.until([&] { return r.count(0, done) == 1; }), r.log());
  std::size_t n = 0;
  const auto fills = backfills_of(r, channel::okx_trades, "BTC-USDT", n);
  const std::uint64_t last_fill = f.seq - f.trade_count;
  CHECK(n == last_fill - p);  // every fill id from p + 1 (exsim's fills count up by one), each once
  REQUIRE(!fills.empty());
  CHECK(fills.begin()->first == p + 1);
  CHECK(fills.rbegin()->first == last_fill);
  // Oldest first, before the marker; the marker names the request.
  const std::size_t marker = r.find(0, done);
  std::uint64_t prev = p;
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    const rec& k = r.records[i];
    if (k.type != record_type::trade || !backfilled(k)) continue;
    CHECK(i < marker);
    CHECK(k.seq == prev + 1);
    CHECK(k.trade_count == 1);
    prev = k.seq;
  }
  CHECK(r.records[marker].gap.last_seq_held == p);
  CHECK(r.records[marker].gap.first_seq_after == f.seq);
  // Each stream trade between p and F is its fills: the same price and side, their sizes summed.
  for (const rec& k : r.records) {
    if (!btc(k) || k.seq <= p || k.seq >= f.seq) continue;
    INFO("trade " << k.seq << " count " << k.trade_count);
    // Sizes as text drop trailing zeros: compare at the finest exponent (-12 covers exsim's).
    auto at12 = [](std::int64_t m, int e) {
      for (; e > -12; --e) m *= 10;
      return m;
    };
    std::int64_t sum = 0;
    for (std::uint64_t id = k.seq - k.trade_count + 1; id <= k.seq; ++id) {
      REQUIRE(fills.count(id) == 1);
      const rec& x = fills.at(id);
      CHECK(at12(x.px, x.px_exp) == at12(k.px, k.px_exp));
      CHECK(x.aggressor == k.aggressor);
      CHECK(x.venue_time_ns == k.venue_time_ns);
      sum += at12(x.qty, x.qty_exp);
    }
    CHECK(sum == at12(k.qty, k.qty_exp));
  }
  const feeder_status_snapshot s = r.snap();
  CHECK(s.backfill_requests == 1);
  CHECK(s.backfill_pages >= 3);
  CHECK(s.backfilled_trades == n);
  CHECK(s.backfill_failures == 0);
  r.finish();
}

TEST_CASE("mdfeed backfill okx: fills older than the venue keeps give a backfill_failed gap first, then the fills it has, then backfill_done") {
  resync_rig r({"--rate", "1500", "--trade-history", "100"}, "okx", {"BTC-USDT"}, {"trades"});
  r.start();
  REQUIRE(r.until([&] { return highest(r, channel::okx_trades, "BTC-USDT") > 0; }, 30s));
  const std::uint64_t p = lowest(r, channel::okx_trades, "BTC-USDT");
  REQUIRE(r.until([&] { return highest(r, channel::okx_trades, "BTC-USDT") >= p + 400; }, 60s));
  const std::uint64_t top = highest(r, channel::okx_trades, "BTC-USDT");
  CHECK(r.backfill(0, channel::okx_trades, p + 1, top - 1, 0) == 1);
  auto is_gap = [](const rec& k) { return k.type == record_type::gap; };
  REQUIRE_MESSAGE(r.until([&] { return r.count(0, is_gap) == 2; }), r.log());
  const std::size_t failed = r.find(0, is_gap);
  CHECK(r.records[failed].gap.reason == gap_reason::backfill_failed);
  CHECK(r.records[failed].gap.last_seq_held == p);
  const std::uint64_t kept = r.records[failed].gap.first_seq_after;
  CHECK(kept > p + 1);
  CHECK(kept <= top);
  std::size_t n = 0;
  const auto fills = backfills_of(r, channel::okx_trades, "BTC-USDT", n);
  REQUIRE(!fills.empty());
  CHECK(fills.begin()->first == kept);  // from the oldest fill the history still had
  CHECK(fills.rbegin()->first == top - 1);
  CHECK(n == top - kept);
  CHECK(r.find(0, [](const rec& k) { return k.type == record_type::trade && backfilled(k); }) > failed);
  CHECK(r.snap().backfill_failures == 1);
  CHECK(r.log().find("the venue's history ends there") != std::string::npos);
  r.finish();
}
