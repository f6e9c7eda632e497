// exsim serves the venues' trade-history REST endpoints from the trades its streams carried
// (issue 16: what a backfill fetches must be what the stream sent, under the same ids):
// Binance spot and USD-M trades / historicalTrades / aggTrades by fromId, with their weights;
// OKX trades and history-trades paged by tradeId (after / before) or time, one row per fill of
// the aggregated trades channel; bounded history; the venues' parameter errors.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "tests/tools/exsim/exsim_test_util.hpp"
#include "tools/exsim/decimal.hpp"

using namespace mdbus::test;

namespace {

std::set<std::string> keys_of(const json& j) {
  std::set<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.insert(it.key());
  return k;
}

/// Decimal text as a mantissa at 8 decimals (both venues' quantities and prices fit).
std::int64_t e8(const json& v) {
  std::int64_t m = 0;
  REQUIRE(mdbus::exsim::parse_decimal(v.get<std::string>(), 8, m));
  return m;
}

/// The stream's events by id, collected until `enough` says so.
struct binance_trades_seen {
  std::map<std::int64_t, json> trades, aggs;  // t → trade event, a → aggTrade event
};

binance_trades_seen collect_binance(ws_loop& loop, ws_conn& c, std::size_t trades, std::size_t aggs) {
  binance_trades_seen seen;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      const auto& d = j["data"];
      if (d["e"] == "trade") seen.trades[d["t"].get<std::int64_t>()] = d;
      if (d["e"] == "aggTrade") seen.aggs[d["a"].get<std::int64_t>()] = d;
    }
    return seen.trades.size() >= trades && seen.aggs.size() >= aggs;
  }, 10s));
  return seen;
}

}  // namespace

TEST_CASE("exsim binance REST trade history returns the trades and aggregates the streams carried, by fromId, with the documented weights") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/stream?streams=btcusdt@trade/btcusdt@aggTrade");
  const auto seen = collect_binance(loop, c, 40, 10);
  const std::int64_t first_t = seen.trades.begin()->first;

  const auto h = http_request(x.binance_rest_port(), "GET", "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=" +
                                                             std::to_string(first_t) + "&limit=30");
  REQUIRE(h.status == 200);
  CHECK(h.header("x-mbx-used-weight-1m") == "25");  // rest-api.md "Old trade lookup": weight 25
  const json rows = h.json();
  REQUIRE(rows.size() == 30);
  std::int64_t expect = first_t;
  for (const auto& r : rows) {
    CHECK(keys_of(r) == std::set<std::string>{"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"});
    REQUIRE(r["id"].get<std::int64_t>() == expect);
    const auto it = seen.trades.find(expect++);
    REQUIRE(it != seen.trades.end());
    const json& t = it->second;
    CHECK(r["price"] == t["p"]);
    CHECK(r["qty"] == t["q"]);
    CHECK(r["time"] == t["T"]);
    CHECK(r["isBuyerMaker"] == t["m"]);
    CHECK(r["isBestMatch"] == true);
    // quoteQty = price x qty, exactly (checked to 1e-12 relative in floating point).
    const long double quote = std::stold(r["quoteQty"].get<std::string>());
    const long double product = static_cast<long double>(e8(r["price"])) * static_cast<long double>(e8(r["qty"])) / 1e16L;
    CHECK(std::abs(quote - product) <= product * 1e-12L);
  }

  const std::int64_t first_a = seen.aggs.begin()->first;
  const auto a = http_request(x.binance_rest_port(), "GET",
                              "/api/v3/aggTrades?symbol=BTCUSDT&fromId=" + std::to_string(first_a) + "&limit=8");
  REQUIRE(a.status == 200);
  CHECK(a.header("x-mbx-used-weight-1m") == "29");  // "Compressed/Aggregate trades list": weight 4
  const json aggs = a.json();
  REQUIRE(aggs.size() == 8);
  expect = first_a;
  for (const auto& r : aggs) {
    CHECK(keys_of(r) == std::set<std::string>{"a", "p", "q", "f", "l", "T", "m", "M"});
    REQUIRE(r["a"].get<std::int64_t>() == expect);
    const json& e = seen.aggs.at(expect++);
    for (const char* k : {"p", "q", "f", "l", "T", "m", "M"}) CHECK(r[k] == e[k]);
  }
  // The aggregate's trades f..l are the trades the history lists under those ids.
  const json& agg = aggs.back();
  const auto f = http_request(x.binance_rest_port(), "GET",
                              "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=" + std::to_string(agg["f"].get<std::int64_t>()) +
                                  "&limit=" + std::to_string(agg["l"].get<std::int64_t>() - agg["f"].get<std::int64_t>() + 1))
                     .json();
  std::int64_t qty = 0;
  for (const auto& r : f) {
    CHECK(r["price"] == agg["p"]);
    qty += e8(r["qty"]);
  }
  CHECK(qty == e8(agg["q"]));

  // Recent trades: the newest, oldest first, consecutive; no fromId.
  const json recent = http_request(x.binance_rest_port(), "GET", "/api/v3/trades?symbol=BTCUSDT&limit=5").json();
  REQUIRE(recent.size() == 5);
  for (std::size_t i = 1; i < recent.size(); ++i) CHECK(recent[i]["id"].get<std::int64_t>() == recent[i - 1]["id"].get<std::int64_t>() + 1);
  CHECK(recent.back()["id"].get<std::int64_t>() >= seen.trades.rbegin()->first);

  // The venue's errors: a fromId that is not a number, an unknown symbol.
  const auto bad = http_request(x.binance_rest_port(), "GET", "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=abc");
  CHECK(bad.status == 400);
  CHECK(bad.json()["code"] == -1100);
  const auto unknown = http_request(x.binance_rest_port(), "GET", "/api/v3/aggTrades?symbol=NOPE");
  CHECK(unknown.status == 400);
  CHECK(unknown.json()["code"] == -1121);
}

TEST_CASE("exsim binance trade history is bounded: a fromId older than kept starts at the oldest trade kept") {
  exsim_process x(plain({"--rate", "4000", "--trade-history", "20"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/stream?streams=btcusdt@trade/btcusdt@aggTrade");
  const auto seen = collect_binance(loop, c, 60, 1);
  const std::int64_t first_t = seen.trades.begin()->first;
  const json rows = http_request(x.binance_rest_port(), "GET",
                                 "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=" + std::to_string(first_t) + "&limit=1000")
                        .json();
  REQUIRE(rows.size() == 20);
  CHECK(rows.front()["id"].get<std::int64_t>() > first_t + 20);  // 60 trades seen, 20 kept
  for (std::size_t i = 1; i < rows.size(); ++i) CHECK(rows[i]["id"].get<std::int64_t>() == rows[i - 1]["id"].get<std::int64_t>() + 1);
}

TEST_CASE("exsim usdm REST trade history has the futures shapes, limits and weights") {
  exsim_process x(plain({"--rate", "4000", "--usdm-symbols", "BTCUSDT"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/market/stream?streams=btcusdt@trade/btcusdt@aggTrade");
  const auto seen = collect_binance(loop, c, 20, 5);
  const std::int64_t first_t = seen.trades.begin()->first;
  const auto h = http_request(x.usdm_rest_port(), "GET",
                              "/fapi/v1/historicalTrades?symbol=BTCUSDT&fromId=" + std::to_string(first_t) + "&limit=10");
  REQUIRE(h.status == 200);
  CHECK(h.header("x-mbx-used-weight-1m") == "20");  // USD-M "Old Trades Lookup": weight 20
  const json rows = h.json();
  REQUIRE(rows.size() == 10);
  for (const auto& r : rows) {
    CHECK(keys_of(r) == std::set<std::string>{"id", "price", "qty", "quoteQty", "time", "isBuyerMaker"});
    const json& t = seen.trades.at(r["id"].get<std::int64_t>());
    CHECK(r["price"] == t["p"]);
    CHECK(r["qty"] == t["q"]);
  }
  const json aggs = http_request(x.usdm_rest_port(), "GET",
                                 "/fapi/v1/aggTrades?symbol=BTCUSDT&fromId=" + std::to_string(seen.aggs.begin()->first) + "&limit=3")
                        .json();
  REQUIRE(aggs.size() == 3);
  CHECK(keys_of(aggs[0]) == std::set<std::string>{"a", "p", "q", "f", "l", "T", "m"});
  // "Old Trades Lookup": limit at most 500 (a larger one is served as 500, once 600 are kept).
  const auto more = collect_binance(loop, c, 600, 1);
  CHECK(http_request(x.usdm_rest_port(), "GET", "/fapi/v1/trades?symbol=BTCUSDT&limit=1000").json().size() >= 600);
  CHECK(http_request(x.usdm_rest_port(), "GET", "/fapi/v1/historicalTrades?symbol=BTCUSDT&limit=1000").json().size() == 500);
  // startTime to endTime must be under an hour.
  const auto wide = http_request(x.usdm_rest_port(), "GET", "/fapi/v1/aggTrades?symbol=BTCUSDT&startTime=0&endTime=3600000");
  CHECK(wide.status == 400);
  CHECK(wide.json()["code"] == -1127);
}

TEST_CASE("exsim okx REST history-trades lists every fill of the aggregated trades channel, paged by tradeId or time") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]})");
  std::vector<json> msgs;  // the channel's trades, oldest first
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      if (j.contains("data")) msgs.push_back(j["data"][0]);
    }
    return msgs.size() >= 100;  // at least 100 fills, a full page
  }, 10s));
  // The page just older than the id after the newest message seen: every fill, newest first.
  const std::int64_t newest = std::stoll(msgs.back()["tradeId"].get<std::string>());
  const json page = http_request(x.okx_rest_port(), "GET",
                                 "/api/v5/market/history-trades?instId=BTC-USDT&type=1&after=" + std::to_string(newest + 1))
                        .json();
  REQUIRE(page["code"] == "0");
  const json& rows = page["data"];
  REQUIRE(rows.size() == 100);  // the default and the maximum
  std::map<std::int64_t, json> fills;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(keys_of(rows[i]) == std::set<std::string>{"instId", "side", "sz", "px", "source", "tradeId", "ts"});
    const std::int64_t id = std::stoll(rows[i]["tradeId"].get<std::string>());
    if (i == 0) CHECK(id == newest);
    if (i > 0) CHECK(id == std::stoll(rows[i - 1]["tradeId"].get<std::string>()) - 1);
    fills[id] = rows[i];
  }
  // Each message of the channel is the fills (tradeId - count, tradeId]: same px, side, ts;
  // their sizes sum to its sz.
  int verified = 0;
  for (const auto& m : msgs) {
    const std::int64_t last = std::stoll(m["tradeId"].get<std::string>());
    const std::int64_t count = std::stoll(m["count"].get<std::string>());
    if (fills.count(last - count + 1) == 0) continue;  // older than the page
    std::int64_t sz = 0;
    for (std::int64_t id = last - count + 1; id <= last; ++id) {
      const json& f = fills.at(id);
      CHECK(f["px"] == m["px"]);
      CHECK(f["side"] == m["side"]);
      CHECK(f["ts"] == m["ts"]);
      sz += e8(f["sz"]);
    }
    CHECK(sz == e8(m["sz"]));
    ++verified;
  }
  CHECK(verified >= 5);
  // after and before together: the ids strictly between.
  const json between = http_request(x.okx_rest_port(), "GET",
                                    "/api/v5/market/history-trades?instId=BTC-USDT&after=" + std::to_string(newest) +
                                        "&before=" + std::to_string(newest - 4))
                           .json()["data"];
  REQUIRE(between.size() == 3);
  CHECK(between[0]["tradeId"] == std::to_string(newest - 1));
  CHECK(between[2]["tradeId"] == std::to_string(newest - 3));
  // type=2 pages by time: everything older than a trade's ts.
  const std::string ts = rows[50]["ts"].get<std::string>();
  const json by_time = http_request(x.okx_rest_port(), "GET",
                                    "/api/v5/market/history-trades?instId=BTC-USDT&type=2&limit=10&after=" + ts)
                           .json()["data"];
  REQUIRE(!by_time.empty());
  for (const auto& r : by_time) CHECK(std::stoll(r["ts"].get<std::string>()) < std::stoll(ts));
  // The latest trades: at most 500 a request; the venue's codes for bad parameters.
  const json recent = http_request(x.okx_rest_port(), "GET", "/api/v5/market/trades?instId=BTC-USDT&limit=900").json();
  CHECK(recent["data"].size() <= 500);
  CHECK(recent["data"].size() >= 100);
  CHECK(http_request(x.okx_rest_port(), "GET", "/api/v5/market/trades?instId=NOPE").json()["code"] == "51001");
  CHECK(http_request(x.okx_rest_port(), "GET", "/api/v5/market/history-trades?instId=BTC-USDT&after=x").json()["code"] == "51000");
}
