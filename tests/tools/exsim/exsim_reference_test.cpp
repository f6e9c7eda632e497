// exsim serves the venues' reference data that general clients (ccxt's loadMarkets) read
// before streaming — Binance exchangeInfo/ping/time, OKX public/instruments and public/time —
// consistent with the prices and quantities it streams, and lists non-trading symbols when
// told to. Binance accepts placeholder stream names (ccxt dials /ws/0) and stays silent on them.
#include <doctest/doctest.h>

#include "tests/tools/exsim/exsim_test_util.hpp"
#include "tools/exsim/exsim_config.hpp"

using namespace mdbus::test;

namespace {
const json* filter(const json& symbol, const char* type) {
  for (const auto& f : symbol["filters"])
    if (f["filterType"] == type) return &f;
  return nullptr;
}
}  // namespace

TEST_CASE("exsim binance exchangeInfo lists streamed symbols as TRADING with filters in exsim's units") {
  exsim_process x(plain({"--binance-halt", "BNBUSDT"}));
  const auto all = http_request(x.binance_rest_port(), "GET", "/api/v3/exchangeInfo");
  REQUIRE(all.status == 200);
  const auto j = all.json();
  CHECK(j["timezone"] == "UTC");
  CHECK(j["serverTime"].is_number_integer());
  REQUIRE(j["symbols"].size() == 3);
  const auto& btc = j["symbols"][0];
  CHECK(btc["symbol"] == "BTCUSDT");
  CHECK(btc["status"] == "TRADING");
  CHECK(btc["baseAsset"] == "BTC");
  CHECK(btc["quoteAsset"] == "USDT");
  REQUIRE(filter(btc, "PRICE_FILTER") != nullptr);
  CHECK((*filter(btc, "PRICE_FILTER"))["tickSize"] == "0.01000000");  // BTCUSDT: price scale 2
  REQUIRE(filter(btc, "LOT_SIZE") != nullptr);
  CHECK((*filter(btc, "LOT_SIZE"))["stepSize"] == "0.00001000");  // quantity scale 5
  CHECK(j["symbols"][2]["symbol"] == "BNBUSDT");
  CHECK(j["symbols"][2]["status"] == "BREAK");

  // symbol= and symbols=[…] (URL-encoded JSON), in the order asked; unknown → -1121.
  const auto one = http_request(x.binance_rest_port(), "GET", "/api/v3/exchangeInfo?symbol=ETHUSDT").json();
  REQUIRE(one["symbols"].size() == 1);
  CHECK(one["symbols"][0]["symbol"] == "ETHUSDT");
  const auto two =
      http_request(x.binance_rest_port(), "GET", "/api/v3/exchangeInfo?symbols=%5B%22BNBUSDT%22,%22BTCUSDT%22%5D").json();
  REQUIRE(two["symbols"].size() == 2);
  CHECK(two["symbols"][0]["symbol"] == "BNBUSDT");
  CHECK(two["symbols"][1]["symbol"] == "BTCUSDT");
  for (const char* q : {"/api/v3/exchangeInfo?symbol=NOPE", "/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22,%22NOPE%22%5D"}) {
    const auto bad = http_request(x.binance_rest_port(), "GET", q);
    CHECK(bad.status == 400);
    CHECK(bad.json() == json::parse(R"({"code":-1121,"msg":"Invalid symbol."})"));
  }
  const auto breaks = http_request(x.binance_rest_port(), "GET", "/api/v3/exchangeInfo?symbolStatus=BREAK").json();
  REQUIRE(breaks["symbols"].size() == 1);
  CHECK(breaks["symbols"][0]["symbol"] == "BNBUSDT");

  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/ping").body == "{}");
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/time").json()["serverTime"].is_number_integer());
  // A halted symbol is listed, not streamed: it has no book.
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BNBUSDT").status == 400);
}

TEST_CASE("exsim okx public instruments lists SPOT instIds as live with exsim's tick and lot sizes") {
  exsim_process x(plain({"--okx-suspend", "BNB-USDT"}));
  const auto j = http_request(x.okx_rest_port(), "GET", "/api/v5/public/instruments?instType=SPOT").json();
  CHECK(j["code"] == "0");
  REQUIRE(j["data"].size() == 3);
  const auto& btc = j["data"][0];
  CHECK(btc["instId"] == "BTC-USDT");
  CHECK(btc["instType"] == "SPOT");
  CHECK(btc["baseCcy"] == "BTC");
  CHECK(btc["quoteCcy"] == "USDT");
  CHECK(btc["state"] == "live");
  CHECK(btc["tickSz"] == "0.1");         // BTC-USDT: price scale 1
  CHECK(btc["lotSz"] == "0.00000001");   // quantity scale 8
  CHECK(btc["minSz"] == "0.00000001");
  CHECK(j["data"][2]["instId"] == "BNB-USDT");
  CHECK(j["data"][2]["state"] == "suspend");

  const auto eth = http_request(x.okx_rest_port(), "GET", "/api/v5/public/instruments?instType=SPOT&instId=ETH-USDT").json();
  REQUIRE(eth["data"].size() == 1);
  CHECK(eth["data"][0]["tickSz"] == "0.01");
  const auto none = http_request(x.okx_rest_port(), "GET", "/api/v5/public/instruments?instType=SPOT&instId=NO-PE");
  CHECK(none.status == 200);
  CHECK(none.json()["code"] == "51001");
  const auto missing = http_request(x.okx_rest_port(), "GET", "/api/v5/public/instruments");
  CHECK(missing.status == 400);
  CHECK(missing.json()["code"] == "50014");
  CHECK(http_request(x.okx_rest_port(), "GET", "/api/v5/public/instruments?instType=SWAP").json()["data"].empty());
  const auto t = http_request(x.okx_rest_port(), "GET", "/api/v5/public/time").json();
  CHECK(t["code"] == "0");
  CHECK(std::stoll(t["data"][0]["ts"].get<std::string>()) > 1'600'000'000'000LL);
}

TEST_CASE("exsim listed-only symbols: a flag takes the symbol out of the streamed ones, a config clash is refused") {
  exsim_process x(plain({"--binance-halt", "ETHUSDT"}));
  const auto info = http_request(x.binance_rest_port(), "GET", "/api/v3/exchangeInfo?symbol=ETHUSDT").json();
  CHECK(info["symbols"][0]["status"] == "BREAK");
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=ETHUSDT").status == 400);
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT").status == 200);
  mdbus::exsim::exsim_config cfg = mdbus::exsim::default_config();
  cfg.tls = false;
  cfg.okx.suspended = {"BTC-USDT"};
  CHECK_THROWS_WITH_AS(mdbus::exsim::validate(cfg), "okx.suspended: 'BTC-USDT' is also in okx.symbols",
                       mdbus::exsim::config_error);
}

TEST_CASE("exsim binance accepts a placeholder stream path and unknown names, delivering nothing for them") {
  exsim_process x(plain({"--rate", "2000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/0");  // as ccxt pro dials
  REQUIRE(loop.pump_until([&] { return c.connected || c.closed; }, 5s));
  REQUIRE(c.connected);
  c.send(R"({"method":"SUBSCRIBE","params":["nosuch@trade"],"id":1})");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop()) == json::parse(R"({"result":null,"id":1})"));
  loop.pump_for(300ms);
  CHECK(c.messages.empty());
  c.send(R"({"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":2})");
  REQUIRE(wait_messages(loop, c, 3));
  CHECK(json::parse(c.pop()) == json::parse(R"({"result":null,"id":2})"));
  CHECK(json::parse(c.pop())["e"] == "trade");
}
