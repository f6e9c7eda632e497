// exsim speaks Binance USD-M futures as the docs describe it (USDⓈ-M Futures "WebSocket Market
// Streams", "How to manage a local order book correctly", "Order Book", "Exchange Information",
// 2026-12): routed paths (/public: depth, bookTicker; /market: trades), a stream named on the
// other path acknowledged and silent, depth chained on pu with ids that skip, partial depth as
// depthUpdate events, bookTicker with e/E/T, aggTrade with nq, REST on its own (fapi) listener.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/tools/exsim/exsim_test_util.hpp"

using namespace mdbus::test;

namespace {
const std::vector<std::string> kUsdm = {"--rate", "4000", "--usdm-symbols", "BTCUSDT", "ETHUSDT"};
}  // namespace

TEST_CASE("exsim usdm /public: depth chains on pu (U skips), partial depth is a depthUpdate, bookTicker has e/E/T, /market streams stay silent") {
  exsim_process x(plain(kUsdm));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(),
                         "/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@depth5@100ms/btcusdt@aggTrade");
  std::map<std::string, int> seen;
  std::int64_t prev_u = -1;
  int skips = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      const auto s = j["stream"].get<std::string>();
      ++seen[s];
      const auto& d = j["data"];
      if (s == "btcusdt@depth@100ms") {
        CHECK(d["e"] == "depthUpdate");
        for (const char* k : {"E", "T", "U", "u", "pu"}) CHECK(d[k].is_number_integer());
        if (prev_u >= 0) {
          CHECK(d["pu"].get<std::int64_t>() == prev_u);
          if (d["U"].get<std::int64_t>() != prev_u + 1) ++skips;
        }
        prev_u = d["u"].get<std::int64_t>();
      } else if (s == "btcusdt@depth5@100ms") {
        CHECK(d["e"] == "depthUpdate");
        CHECK(d.contains("pu"));
        CHECK(d["b"].size() <= 5);
        CHECK_FALSE(d.contains("lastUpdateId"));
      } else if (s == "btcusdt@bookTicker") {
        CHECK(d["e"] == "bookTicker");
        CHECK(d["E"].is_number_integer());
        CHECK(d["T"].is_number_integer());
        // The instrument's precision, not spot's 8 decimals.
        const auto b = d["b"].get<std::string>();
        CHECK(b.size() - b.find('.') - 1 == 2);
      }
    }
    return seen["btcusdt@depth@100ms"] >= 10 && seen["btcusdt@bookTicker"] >= 10 && seen["btcusdt@depth5@100ms"] >= 3;
  }, 10s));
  CHECK(seen.count("btcusdt@aggTrade") == 0);  // a /market stream on /public: accepted, silent
  CHECK(skips > 0);
}

TEST_CASE("exsim usdm /market: trades with X, aggTrade with nq, depth named there stays silent, spot paths stay spot") {
  exsim_process x(plain(kUsdm));
  ws_loop loop;
  auto& m = loop.connect(x.venue_port(), "/market/stream?streams=btcusdt@trade/btcusdt@aggTrade/btcusdt@depth@100ms");
  auto& spot = loop.connect(x.venue_port(), "/ws/btcusdt@trade");
  std::map<std::string, int> seen;
  int spot_trades = 0;
  REQUIRE(loop.pump_until([&] {
    while (!m.messages.empty()) {
      const auto j = json::parse(m.pop());
      const auto s = j["stream"].get<std::string>();
      ++seen[s];
      const auto& d = j["data"];
      if (s == "btcusdt@trade") {
        CHECK(d["X"] == "MARKET");
        CHECK_FALSE(d.contains("M"));
      } else if (s == "btcusdt@aggTrade") {
        CHECK(d["nq"].is_string());
        CHECK_FALSE(d.contains("M"));
      }
    }
    while (!spot.messages.empty()) {
      const auto j = json::parse(spot.pop());
      CHECK(j["M"] == true);  // spot's shape on the unrouted path
      ++spot_trades;
    }
    return seen["btcusdt@trade"] >= 10 && seen["btcusdt@aggTrade"] >= 5 && spot_trades >= 5;
  }, 10s));
  CHECK(seen.count("btcusdt@depth@100ms") == 0);
}

TEST_CASE("exsim usdm REST on its own listener: /fapi/v1/depth (limits 5..1000 of a set, E and T), exchangeInfo") {
  exsim_process x(plain(kUsdm));
  REQUIRE(x.usdm_rest_port() > 0);
  const auto r = http_request(x.usdm_rest_port(), "GET", "/fapi/v1/depth?symbol=BTCUSDT&limit=1000");
  REQUIRE(r.status == 200);
  const json d = r.json();
  CHECK(d["lastUpdateId"].is_number_integer());
  CHECK(d["E"].is_number_integer());
  CHECK(d["T"].is_number_integer());
  CHECK(d["bids"].size() > 0);
  const auto bad = http_request(x.usdm_rest_port(), "GET", "/fapi/v1/depth?symbol=BTCUSDT&limit=200");
  CHECK(bad.status == 400);
  CHECK(bad.json()["code"] == -1130);
  const auto info = http_request(x.usdm_rest_port(), "GET", "/fapi/v1/exchangeInfo");
  REQUIRE(info.status == 200);
  const json syms = info.json()["symbols"];
  REQUIRE(syms.size() == 2);
  CHECK(syms[0]["contractType"] == "PERPETUAL");
  CHECK(syms[0]["status"] == "TRADING");
  CHECK(info.json()["rateLimits"][0]["limit"] == 2400);
  // Spot's REST host does not serve fapi paths, nor fapi spot's.
  CHECK(http_request(x.binance_rest_port(), "GET", "/fapi/v1/depth?symbol=BTCUSDT&limit=100").status == 404);
  CHECK(http_request(x.usdm_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=100").status == 404);
  // Without --usdm-symbols there is no USD-M at all.
  exsim_process spot_only(plain({"--rate", "100"}));
  CHECK(spot_only.usdm_rest_port() == -1);
}
