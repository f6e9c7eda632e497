// The merger's resync requests, served by a real mdfeed against exsim over TLS: the test is
// the commander (it creates the control block) and the merger (it bumps a stream's
// generation with feeder_resync_requester and reads the feeder's ring as its SPSC reader).
// Binance answers with a REST depth snapshot that joins the diff stream by U/u; OKX with a
// resubscription whose pushed snapshot the updates chain from. One stream per request: the
// other symbol's book is never touched.
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace mdbus;
using namespace mdbus::test;

#include "tests/feeders/mdfeed/control_rig.hpp"

namespace {

// ---- Binance -------------------------------------------------------------------------------

const std::vector<std::string> kBinanceSymbols = {"BTCUSDT", "ETHUSDT"};
const std::vector<std::string> kBinanceChannels = {"trade", "depth@100ms"};

auto rest_snapshot_of(const std::string& sym) {
  return [sym](const rec& r) { return is_book(r, record_type::book_snapshot, channel::binance_depth, sym) && from_rest(r); };
}
auto delta_of(channel ch, const std::string& sym) {
  return [ch, sym](const rec& r) { return is_book(r, record_type::book_delta, ch, sym); };
}

/// The Binance procedure (feeders/CONFORMANCE.md "Book joins"): the first event applied after a
/// snapshot with lastUpdateId L is the one with U <= L+1 <= u. exsim's ids are contiguous
/// across events, so one such delta exists in the ring once the stream has moved past L.
bool joins(const resync_rig& r, std::uint64_t last_update_id) {
  return r.find(0, [&](const rec& d) {
           return is_book(d, record_type::book_delta, channel::binance_depth, "BTCUSDT") && d.first_seq <= last_update_id + 1 &&
                  last_update_id + 1 <= d.seq;
         }) < r.records.size();
}

/// A REST snapshot's parts, from its first: all flagged from REST, indexed 0.., the last flagged last.
void check_whole_snapshot(const resync_rig& r, std::size_t first) {
  REQUIRE(first < r.records.size());
  const rec& head = r.records[first];
  CHECK((head.book_flags & kBookFirstPart) != 0);
  CHECK(head.part == 0);
  std::uint16_t part = 0;
  for (std::size_t i = first; i < r.records.size(); ++i) {
    const rec& p = r.records[i];
    if (!rest_snapshot_of(head.symbol)(p) || p.seq != head.seq) continue;
    CHECK(p.part == part++);
    if (last_part(p)) return;
  }
  FAIL("the REST snapshot has no last part");
}

}  // namespace

TEST_CASE("mdfeed resync binance: a depth request brings one REST snapshot that joins the diff stream by U/u, ETHUSDT untouched") {
  resync_rig r({"--rate", "1000"}, "binance", kBinanceSymbols, kBinanceChannels);
  r.start();
  REQUIRE(r.until([&] { return r.count(0, delta_of(channel::binance_depth, "BTCUSDT")) >= 3; }));
  const std::size_t p0 = r.records.size();

  CHECK(r.request(0, channel::binance_depth) == 1);
  REQUIRE(r.until([&] { return r.find(p0, rest_snapshot_of("BTCUSDT")) < r.records.size(); }));
  const std::size_t at = r.find(p0, rest_snapshot_of("BTCUSDT"));
  const std::uint64_t last_update_id = r.records[at].seq;
  CHECK((r.records[at].flags & kHeaderHasSeq) != 0);
  CHECK(last_update_id > 0);
  // The merger's part: joinable to the stream the feeder is writing.
  INFO("lastUpdateId " << last_update_id);
  REQUIRE(r.until([&] { return joins(r, last_update_id); }));
  // Not older than the stream: the first delta in the ring does not start after L+1.
  const std::size_t first_delta = r.find(0, delta_of(channel::binance_depth, "BTCUSDT"));
  CHECK(r.records[first_delta].first_seq <= last_update_id + 1);
  check_whole_snapshot(r, at);

  REQUIRE(eventually([&] { return r.snap().resyncs_done == 1; }, 5s));
  const auto s = r.snap();
  CHECK(s.resync_requests == 1);
  CHECK(s.resync_failures == 0);
  CHECK(s.parse_errors_total == 0);
  CHECK(s.reconnects == 0);
  r.drain();
  CHECK(r.count(0, rest_snapshot_of("BTCUSDT")) >= 1);
  CHECK(r.count(0, [](const rec& k) { return last_part(k) && from_rest(k); }) == 1);  // one whole snapshot
  CHECK(r.count(0, rest_snapshot_of("ETHUSDT")) == 0);
  INFO(r.log());
  CHECK(r.log().find("resync depth BTCUSDT: REST snapshot written") != std::string::npos);
  CHECK(r.log().find("libwebsockets") == std::string::npos);  // the REST request raised no lws error
  r.finish();
}

TEST_CASE("mdfeed resync binance: twenty resyncs in a row leave no connection behind") {
  resync_rig r({"--rate", "1000"}, "binance", kBinanceSymbols, kBinanceChannels);
  r.start();
  REQUIRE(eventually([&] { return r.status.state() == feeder_state::live; }, 10s));
  const std::string fd_dir = "/proc/" + std::to_string(r.feeder->pid()) + "/fd";
  auto open_fds = [&] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(fd_dir)) ++n;
    return n;
  };
  const std::size_t before = open_fds();
  for (std::uint64_t i = 1; i <= 20; ++i) {
    r.request(i % 2, channel::binance_depth);  // both symbols in turn
    REQUIRE(r.until([&] { return r.snap().resyncs_done == i; }, 10s));
  }
  const auto s = r.snap();
  CHECK(s.resync_requests == 20);
  CHECK(s.resync_failures == 0);
  r.drain();
  CHECK(r.count(0, rest_snapshot_of("BTCUSDT")) >= 10);
  CHECK(r.count(0, rest_snapshot_of("ETHUSDT")) >= 10);
  // Each REST connection is closed once its body is in (no keep-alive pool to grow).
  INFO("open fds before " << before << ", after " << open_fds());
  CHECK(eventually([&] { return open_fds() <= before; }, 5s));
  r.finish();
}

TEST_CASE("mdfeed resync binance: two requests before the feeder looks are one snapshot, out-of-range and non-book requests are ignored") {
  resync_rig r({"--rate", "1000"}, "binance", kBinanceSymbols, kBinanceChannels);
  r.start();
  REQUIRE(eventually([&] { return r.status.state() == feeder_state::live; }, 10s));
  // Frozen, the feeder cannot look between the bumps.
  r.feeder->signal(SIGSTOP);
  CHECK(r.request(0, channel::binance_depth) == 1);
  CHECK(r.request(0, channel::binance_depth) == 2);
  CHECK(r.merger.request(kNoResyncSlot) == 0);                     // no slot: refused
  CHECK(r.request(5, channel::binance_depth) == 0);                // a symbol index the config does not have: beyond the table
  CHECK(r.request(1, channel::binance_trade) == 1);                // not a book stream
  CHECK(r.request(0, channel::binance_depth_partial) == 1);        // a snapshot every message: nothing to resync
  r.feeder->signal(SIGCONT);

  REQUIRE(r.until([&] { return r.snap().resyncs_done == 1; }));
  CHECK(r.feeder->running());
  const auto s = r.snap();
  CHECK(s.resync_requests == 1);
  CHECK(s.resync_failures == 0);
  r.drain();
  CHECK(r.count(0, [](const rec& k) { return from_rest(k) && last_part(k); }) == 1);
  CHECK(r.count(0, rest_snapshot_of("ETHUSDT")) == 0);
  r.finish();
}

TEST_CASE("mdfeed resync binance: a request made while the slot is down is served once the connection is live") {
  resync_rig r({"--rate", "1000"}, "binance", kBinanceSymbols, kBinanceChannels);
  r.start({"--start-down"});
  CHECK(r.request(1, channel::binance_depth) == 1);
  REQUIRE(eventually([&] { return r.snap().resync_requests == 1; }, 5s));
  // Down: no REST snapshot without a diff stream to join it to.
  CHECK(r.snap().resyncs_done == 0);
  CHECK(r.snap().connections == 0);

  const auto w = r.control.send(feeder_command::connect);
  REQUIRE(eventually([&] { return r.status.ack_word() == w; }, 5s));
  REQUIRE(r.until([&] { return r.snap().resyncs_done == 1 && r.find(0, rest_snapshot_of("ETHUSDT")) < r.records.size(); }));
  const std::size_t up = r.find(0, [](const rec& k) { return k.type == record_type::slot_status && k.state == slot_state::up; });
  const std::size_t snap = r.find(0, rest_snapshot_of("ETHUSDT"));
  CHECK(up < snap);  // fetched once the line was live
  CHECK(r.snap().resync_requests == 1);
  CHECK(r.count(0, rest_snapshot_of("BTCUSDT")) == 0);
  r.finish();
}

TEST_CASE("mdfeed resync: a request pending when the feeder attaches is served (resyncs have no baseline)") {
  resync_rig r({"--rate", "1000"}, "binance", kBinanceSymbols, kBinanceChannels);
  CHECK(r.request(0, channel::binance_depth) == 1);  // the merger asked while no feeder ran
  r.start();
  REQUIRE(r.until([&] { return r.snap().resyncs_done == 1; }));
  CHECK(r.snap().resync_requests == 1);
  CHECK(r.count(0, rest_snapshot_of("BTCUSDT")) >= 1);
  CHECK(r.count(0, rest_snapshot_of("ETHUSDT")) == 0);
  r.finish();
}

TEST_CASE("mdfeed resync binance: a failed REST fetch is retried once, then counted as a failure, and a later request succeeds") {
  resync_rig r({"--rate", "1000"}, "binance", kBinanceSymbols, kBinanceChannels);
  r.start();
  REQUIRE(eventually([&] { return r.status.state() == feeder_state::live; }, 10s));
  // New connections (REST included) are closed at once; the live WebSocket is not touched.
  CHECK(exsim_fault(r.x, {{"type", "refuse"}, {"ms", 3000}})["ok"] == true);
  CHECK(r.request(0, channel::binance_depth) == 1);
  REQUIRE(eventually([&] { return r.snap().resync_failures == 1; }, 10s));
  CHECK(r.snap().resyncs_done == 0);
  {
    INFO(r.log());
    CHECK(r.log().find("attempt 1 failed") != std::string::npos);
    CHECK(r.log().find("retrying in 50 ms") != std::string::npos);
    CHECK(r.log().find("attempt 2 failed") != std::string::npos);
    CHECK(r.log().find("giving up until the next request") != std::string::npos);
  }
  // Once exsim accepts again, a new request is served (asked again after each failure).
  INFO(r.log());
  std::uint64_t failures = 1;
  CHECK(r.request(0, channel::binance_depth) == 2);
  REQUIRE(eventually([&] {
    const auto s = r.snap();
    if (s.resyncs_done >= 1) return true;
    if (s.resync_failures > failures) {
      failures = s.resync_failures;
      r.request(0, channel::binance_depth);
    }
    return false;
  }, 20s));
  const auto s = r.snap();
  CHECK(s.resyncs_done == 1);
  CHECK(s.resync_requests == failures + 1);
  CHECK(s.reconnects == 0);
  CHECK(r.until([&] { return r.count(0, rest_snapshot_of("BTCUSDT")) >= 1; }));
  r.finish();
}

// ---- OKX -------------------------------------------------------------------------------------
// OKX delisted the books snapshot pushed on subscribe (changelog "Delist initial snapshot and
// checksum field in order book channels", production from August 2026; exsim's default): a
// book is joined to GET /api/v5/market/books on the REST host, the first update applied
// having prevSeqId <= snapshot seqId < seqId.

namespace {

const std::vector<std::string> kOkxSymbols = {"BTC-USDT", "ETH-USDT"};
const std::vector<std::string> kOkxChannels = {"trades", "books", "books5"};

auto okx_rest_snapshot_of(const std::string& sym) {
  return [sym](const rec& r) { return is_book(r, record_type::book_snapshot, channel::okx_books, sym) && from_rest(r) && last_part(r); };
}
auto pushed_snapshot_of(const std::string& sym) {
  return [sym](const rec& r) { return is_book(r, record_type::book_snapshot, channel::okx_books, sym) && !from_rest(r); };
}

/// The update that joins a snapshot of seqId `s` (prevSeqId <= s < seqId), then the chain
/// after it (prevSeqId == previous seqId). Returns how many chained updates were checked; 0
/// when no update joins yet.
std::size_t check_join(const resync_rig& r, std::uint64_t s, const std::string& sym) {
  const std::size_t at = r.find(0, [&](const rec& d) {
    return is_book(d, record_type::book_delta, channel::okx_books, sym) && d.prev_seq <= static_cast<std::int64_t>(s) && s < d.seq;
  });
  if (at >= r.records.size()) return 0;
  std::int64_t last = static_cast<std::int64_t>(r.records[at].seq);
  std::size_t n = 0;
  for (std::size_t i = at + 1; i < r.records.size(); ++i) {
    const rec& k = r.records[i];
    if (!is_book(k, record_type::book_delta, channel::okx_books, sym)) continue;
    if (k.prev_seq != last) {
      FAIL_CHECK("update " << n << " after the join: prevSeqId " << k.prev_seq << ", expected " << last);
      return n;
    }
    last = static_cast<std::int64_t>(k.seq);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("mdfeed resync okx: a books request brings one REST snapshot from the REST host that the updates join, ETH-USDT untouched") {
  resync_rig r({"--rate", "1000"}, "okx", kOkxSymbols, kOkxChannels);
  r.start();
  REQUIRE(r.until([&] { return r.count(0, delta_of(channel::okx_books, "BTC-USDT")) >= 2; }));
  CHECK(r.count(0, pushed_snapshot_of("BTC-USDT")) == 0);  // nothing pushed on subscribe
  CHECK(r.request(0, channel::okx_books) == 1);
  REQUIRE(r.until([&] { return r.count(0, okx_rest_snapshot_of("BTC-USDT")) == 1; }));
  const std::uint64_t s = r.records[r.find(0, okx_rest_snapshot_of("BTC-USDT"))].seq;
  REQUIRE(r.until([&] { return check_join(r, s, "BTC-USDT") >= 3; }));
  REQUIRE(eventually([&] { return r.snap().resyncs_done == 1; }, 5s));
  const auto st = r.snap();
  CHECK(st.resync_requests == 1);
  CHECK(st.resync_failures == 0);
  CHECK(st.venue_errors == 0);
  CHECK(st.reconnects == 0);
  CHECK(st.rest_rejections == 0);
  r.drain();
  CHECK(r.count(0, okx_rest_snapshot_of("ETH-USDT")) == 0);
  // The request went to exsim's OKX REST listener (the stream port serves no REST), inside its limit.
  const json limits = exsim_status(r.x)["limits"]["okx"];
  CHECK(limits["rest_requests"].get<int>() >= 1);
  CHECK(limits["rest_429"].get<int>() == 0);
  INFO(r.log());
  CHECK(r.log().find("resync books BTC-USDT: REST snapshot written") != std::string::npos);
  r.finish();
}

// Issue 15 "no fixed capacity": the control block's resync table is sized from the config, so
// the 200th instrument of a venue gets its book back (the table used to end at 128 symbols).
TEST_CASE("mdfeed resync okx: 200 instIds on one connection, a request for the 200th brings its snapshot and nothing else") {
  std::vector<std::string> syms;
  for (int i = 0; i < 200; ++i) {
    char b[16];
    std::snprintf(b, sizeof b, "S%03d-USDT", i);
    syms.emplace_back(b);
  }
  std::vector<std::string> args = {"--rate", "4000", "--okx-symbols"};
  args.insert(args.end(), syms.begin(), syms.end());
  resync_rig r(args, "okx", syms, {"books"});
  r.start();
  CHECK(r.control.segment().size() == feeder_control_size(200));
  const std::string last = syms.back();
  REQUIRE(r.until([&] { return r.count(0, delta_of(channel::okx_books, last)) >= 2; }, 20s));
  CHECK(r.request(199, channel::okx_books) == 1);
  REQUIRE(r.until([&] { return r.count(0, okx_rest_snapshot_of(last)) == 1; }, 20s));
  const std::uint64_t s = r.records[r.find(0, okx_rest_snapshot_of(last))].seq;
  REQUIRE(r.until([&] { return check_join(r, s, last) >= 3; }, 20s));
  const auto st = r.snap();
  CHECK(st.resync_requests == 1);
  CHECK(st.resyncs_done == 1);
  CHECK(st.resync_failures == 0);
  // Only the stream asked for: no other instrument's book was fetched.
  CHECK(r.count(0, [](const rec& k) { return k.type == record_type::book_snapshot && from_rest(k); }) ==
        r.count(0, [&](const rec& k) { return k.type == record_type::book_snapshot && from_rest(k) && k.symbol == last; }));
  INFO(r.log());
  CHECK(r.log().find("resync books " + last + ": REST snapshot written") != std::string::npos);
  CHECK(r.log().find("cannot be resynced") == std::string::npos);
  r.finish();
}

TEST_CASE("mdfeed resync okx: a request made while the slot is down is served from REST once the connection is live") {
  resync_rig r({"--rate", "1000"}, "okx", kOkxSymbols, kOkxChannels);
  r.start({"--start-down"});
  CHECK(r.request(1, channel::okx_books) == 1);
  REQUIRE(eventually([&] { return r.snap().resync_requests >= 1; }, 5s));
  const auto w = r.control.send(feeder_command::connect);
  REQUIRE(eventually([&] { return r.status.ack_word() == w; }, 5s));
  REQUIRE(r.until([&] { return r.snap().resyncs_done == 1 && r.count(0, okx_rest_snapshot_of("ETH-USDT")) == 1; }));
  const std::uint64_t s = r.records[r.find(0, okx_rest_snapshot_of("ETH-USDT"))].seq;
  REQUIRE(r.until([&] { return check_join(r, s, "ETH-USDT") >= 3; }));
  CHECK(r.count(0, okx_rest_snapshot_of("BTC-USDT")) == 0);
  CHECK(r.snap().resync_failures == 0);
  r.finish();
}

// ---- Binance USD-M -------------------------------------------------------------------------

namespace {

const std::vector<std::string> kUsdmArgs = {"--rate", "1000", "--usdm-symbols", "BTCUSDT", "ETHUSDT"};

auto usdm_rest_snapshot_of(const std::string& sym) {
  return [sym](const rec& r) { return is_book(r, record_type::book_snapshot, channel::usdm_depth, sym) && from_rest(r); };
}

/// The USD-M procedure ("How to manage a local order book correctly", 2026-12): after a
/// snapshot with lastUpdateId L, the first event applied has U <= L <= u (or names L as its pu).
bool usdm_joins(const resync_rig& r, std::uint64_t l, const std::string& sym) {
  return r.find(0, [&](const rec& d) {
           return is_book(d, record_type::book_delta, channel::usdm_depth, sym) &&
                  ((d.first_seq <= l && l <= d.seq) || d.prev_seq == static_cast<std::int64_t>(l));
         }) < r.records.size();
}

}  // namespace

TEST_CASE("mdfeed binance_usdm: /public depth chains on pu with ids that skip, a resync is a /fapi/v1/depth snapshot the stream spans") {
  resync_rig r(kUsdmArgs, "binance_usdm", {"BTCUSDT", "ETHUSDT"}, {"depth@100ms", "bookTicker"});
  r.start();
  REQUIRE(r.until([&] { return r.count(0, delta_of(channel::usdm_depth, "BTCUSDT")) >= 10; }));
  // Every delta names the previous one's u as its pu; U is not the previous u + 1 throughout
  // (USD-M's shared id space): pu is the chain, U is not.
  std::uint64_t prev_u = 0;
  std::size_t chained = 0, skipped = 0;
  for (const rec& d : r.records) {
    if (!delta_of(channel::usdm_depth, "BTCUSDT")(d)) continue;
    CHECK((d.flags & kHeaderHasPrevSeq) != 0);
    if (prev_u != 0) {
      CHECK(d.prev_seq == static_cast<std::int64_t>(prev_u));
      ++chained;
      if (d.first_seq != prev_u + 1) ++skipped;
    }
    prev_u = d.seq;
  }
  CHECK(chained >= 9);
  CHECK(skipped > 0);
  CHECK(r.count(0, [](const rec& k) { return k.type == record_type::bbo && k.ch == channel::usdm_book_ticker; }) > 0);

  const std::size_t p0 = r.records.size();
  CHECK(r.request(0, channel::usdm_depth) == 1);
  REQUIRE(r.until([&] { return r.find(p0, usdm_rest_snapshot_of("BTCUSDT")) < r.records.size(); }));
  const std::uint64_t l = r.records[r.find(p0, usdm_rest_snapshot_of("BTCUSDT"))].seq;
  INFO("lastUpdateId " << l);
  REQUIRE(r.until([&] { return usdm_joins(r, l, "BTCUSDT"); }));
  REQUIRE(eventually([&] { return r.snap().resyncs_done == 1; }, 5s));
  const auto s = r.snap();
  CHECK(s.resync_failures == 0);
  CHECK(s.parse_errors_total == 0);
  CHECK(s.reconnects == 0);
  r.drain();
  CHECK(r.count(0, usdm_rest_snapshot_of("ETHUSDT")) == 0);
  INFO(r.log());
  CHECK(r.log().find("/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/ethusdt@depth@100ms/ethusdt@bookTicker") !=
        std::string::npos);
  CHECK(r.log().find("resync depth BTCUSDT: REST snapshot written") != std::string::npos);
  r.finish();
}

TEST_CASE("mdfeed binance_usdm: /market trades and aggTrades flow with consecutive ids") {
  resync_rig r(kUsdmArgs, "binance_usdm", {"BTCUSDT"}, {"trade", "aggTrade"});
  r.start();
  auto trades = [](channel ch) {
    return [ch](const rec& k) { return k.type == record_type::trade && k.ch == ch && k.symbol == "BTCUSDT"; };
  };
  REQUIRE(r.until([&] { return r.count(0, trades(channel::usdm_trade)) >= 20 && r.count(0, trades(channel::usdm_agg_trade)) >= 5; }));
  for (const channel ch : {channel::usdm_trade, channel::usdm_agg_trade}) {
    std::uint64_t prev = 0;
    for (const rec& k : r.records) {
      if (!trades(ch)(k)) continue;
      if (prev != 0) CHECK(k.seq == prev + 1);
      prev = k.seq;
    }
  }
  INFO(r.log());
  CHECK(r.log().find("/market/stream?streams=btcusdt@trade/btcusdt@aggTrade") != std::string::npos);
  CHECK(r.snap().parse_errors_total == 0);
  r.finish();
}
