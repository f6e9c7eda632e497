// exsim keeps the venues' REST on REST listeners of their own (the stream port serves none),
// charges the venues' request weights and limits per client IP (Binance 429 then 418, OKX
// 429/50011), limits connection attempts per IP, and keeps quiet instruments quiet — each
// counted in GET /status.
#include <doctest/doctest.h>

#include <thread>

#include "tests/tools/exsim/exsim_test_util.hpp"
#include "tests/tools/exsim/raw_ws_client.hpp"

using namespace mdbus::test;

namespace {
json limits(const exsim_process& x, const char* venue) {
  return http_request(x.control_port(), "GET", "/status").json()["limits"][venue];
}

/// The error a WebSocket upgrade fails with ("" if it succeeded).
std::string upgrade_error(int port, const std::string& path) {
  try {
    raw_ws_client c(port, path);
    return {};
  } catch (const std::runtime_error& e) {
    return e.what();
  }
}

/// Returns just after the start of a fixed window of `window_ms`. exsim aligns its Binance
/// weight windows to CLOCK_MONOTONIC, the clock behind std::chrono::steady_clock here, so a
/// burst that starts now falls inside one window.
void wait_window_start(std::int64_t window_ms) {
  using namespace std::chrono;
  const auto now = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  std::this_thread::sleep_for(milliseconds(window_ms - now % window_ms + 20));
}
}  // namespace

TEST_CASE("exsim REST is served on each venue's own listener, and the stream port answers 404") {
  exsim_process x(plain({"--rate", "100"}));
  REQUIRE(x.binance_rest_port() > 0);
  REQUIRE(x.okx_rest_port() > 0);
  CHECK(x.output().find("http://127.0.0.1:" + std::to_string(x.binance_rest_port()) + "/api/v3/depth") != std::string::npos);
  CHECK(x.output().find("http://127.0.0.1:" + std::to_string(x.okx_rest_port()) + "/api/v5/market/books") != std::string::npos);
  const auto b = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5");
  CHECK(b.status == 200);
  CHECK(b.json()["bids"].size() == 5);
  const auto o = http_request(x.okx_rest_port(), "GET", "/api/v5/market/books?instId=BTC-USDT&sz=5");
  CHECK(o.status == 200);
  CHECK(o.json()["data"][0]["asks"].size() == 5);
  // Each listener serves only its venue's paths; the stream port serves none.
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v5/market/books?instId=BTC-USDT").status == 404);
  CHECK(http_request(x.okx_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT").status == 404);
  CHECK(http_request(x.venue_port(), "GET", "/api/v3/depth?symbol=BTCUSDT").status == 404);
  CHECK(http_request(x.venue_port(), "GET", "/api/v5/market/books?instId=BTC-USDT").status == 404);
  // No WebSocket on a REST host.
  CHECK_FALSE(upgrade_error(x.binance_rest_port(), "/ws/btcusdt@trade").empty());
  const auto st = http_request(x.control_port(), "GET", "/status").json();
  CHECK(st["binance_rest_port"] == x.binance_rest_port());
  CHECK(st["okx_rest_port"] == x.okx_rest_port());
}

TEST_CASE("exsim --rest-on-stream-port also serves both venues' REST on the stream port, on the same budget") {
  exsim_process x(plain({"--rate", "100", "--rest-on-stream-port"}));
  const auto b = http_request(x.venue_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5");
  CHECK(b.status == 200);
  CHECK(b.header("X-MBX-USED-WEIGHT-1M") == "5");
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5").header("X-MBX-USED-WEIGHT-1M") == "10");
  CHECK(http_request(x.venue_port(), "GET", "/api/v5/market/books?instId=BTC-USDT").status == 200);
  CHECK(http_request(x.okx_rest_port(), "GET", "/api/v5/market/books?instId=BTC-USDT").status == 200);
  CHECK(limits(x, "okx")["rest_requests"] == 2);
  CHECK(limits(x, "binance")["rest_weight_used"] == 10);
}

TEST_CASE("exsim binance depth weight follows limit, every answer carries X-MBX-USED-WEIGHT-1M") {
  exsim_process x(plain({"--rate", "100"}));
  std::int64_t expect = 0;
  for (const auto& [limit, weight] : std::vector<std::pair<std::string, int>>{
           {"", 5}, {"1", 5}, {"100", 5}, {"101", 25}, {"500", 25}, {"501", 50}, {"1000", 50}, {"1001", 250}, {"5000", 250}}) {
    INFO("limit " << limit);
    const auto r = http_request(x.binance_rest_port(), "GET",
                                "/api/v3/depth?symbol=ETHUSDT" + (limit.empty() ? std::string() : "&limit=" + limit));
    REQUIRE(r.status == 200);
    expect += weight;
    CHECK(r.header("X-MBX-USED-WEIGHT-1M") == std::to_string(expect));
  }
  const auto bad = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=NOPE");
  CHECK(bad.status == 400);
  CHECK(!bad.header("x-mbx-used-weight-1m").empty());
  const auto l = limits(x, "binance");
  CHECK(l["rest_requests"] == 10);
  CHECK(l["rest_weight_max"] >= expect);
  CHECK(l["rest_429"] == 0);
}

TEST_CASE("exsim binance over the weight limit: 429 with Retry-After, sending again before it passes: 418 ban") {
  // 20 weight per 3 s window: four limit=100 depth requests fit, the fifth does not.
  exsim_process x(plain({"--rate", "100", "--binance-weight-limit", "20", "--binance-weight-window-ms", "3000",
                         "--binance-ban-ms", "2000"}));
  const std::string depth = "/api/v3/depth?symbol=BTCUSDT&limit=100";
  wait_window_start(3000);
  http_response r;
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    r = http_request(x.binance_rest_port(), "GET", depth);
    if (r.status != 200) break;
    ++ok;
  }
  REQUIRE(r.status == 429);
  CHECK(ok == 4);
  CHECK(r.header("Retry-After") == "3");  // the rest of the window, rounded up
  CHECK(r.json()["code"] == -1003);
  CHECK(r.json()["msg"].get<std::string>().rfind("Too much request weight used;", 0) == 0);
  CHECK(r.header("X-MBX-USED-WEIGHT-1M") == "20");
  // Sending again inside the Retry-After: IP ban; everything gets 418 until the ban ends.
  const auto banned = http_request(x.binance_rest_port(), "GET", depth);
  CHECK(banned.status == 418);
  CHECK(banned.header("Retry-After") == "2");
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=1").status == 418);
  auto l = limits(x, "binance");
  CHECK(l["rest_429"] == 1);
  CHECK(l["rest_418"] == 2);
  CHECK(l["rest_weight_max"] == 20);
  CHECK(l["rest_weight_limit"] == 20);
  // After the ban, a fresh window serves again.
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto again = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=1");
    status = again.status;
    if (status == 200) break;
    std::this_thread::sleep_for(std::chrono::seconds(std::stoi(again.header("Retry-After"))));  // as a client must
  }
  CHECK(status == 200);
}

TEST_CASE("exsim binance a client that waits out Retry-After is served again and never banned") {
  exsim_process x(plain({"--rate", "100", "--binance-weight-limit", "10", "--binance-weight-window-ms", "1000"}));
  int served = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (served < 6 && std::chrono::steady_clock::now() < deadline) {
    const auto r = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT");
    if (r.status == 200) {
      ++served;
      continue;
    }
    REQUIRE(r.status == 429);
    std::this_thread::sleep_for(std::chrono::seconds(std::stoi(r.header("Retry-After"))));
  }
  CHECK(served == 6);
  const auto l = limits(x, "binance");
  CHECK(l["rest_418"] == 0);
  CHECK(l["rest_weight_max"] <= 10);
}

TEST_CASE("exsim okx books REST over 40 requests per 2 s per IP gets 429 code 50011") {
  exsim_process x(plain({"--rate", "100", "--okx-books-limit", "5", "--okx-books-window-ms", "1500"}));
  int ok = 0;
  http_response r;
  for (int i = 0; i < 6; ++i) {
    r = http_request(x.okx_rest_port(), "GET", "/api/v5/market/books?instId=ETH-USDT&sz=1");
    if (r.status != 200) break;
    ++ok;
  }
  CHECK(ok == 5);
  CHECK(r.status == 429);
  CHECK(r.json() == json::parse(R"({"code":"50011","msg":"Too Many Requests","data":[]})"));
  const auto l = limits(x, "okx");
  CHECK(l["rest_429"] == 1);
  CHECK(l["rest_weight_max"] == 5);
  CHECK(l["rest_requests"] == 6);
}

TEST_CASE("exsim connection attempts over the per-IP limit are refused with HTTP 429 and counted") {
  exsim_process x(plain({"--rate", "10", "--okx-connect-limit", "2", "--okx-connect-window-ms", "1000",
                         "--binance-connect-limit", "1", "--binance-connect-window-ms", "60000"}));
  raw_ws_client o1(x.venue_port(), "/ws/v5/public");
  raw_ws_client o2(x.venue_port(), "/ws/v5/public");
  CHECK(upgrade_error(x.venue_port(), "/ws/v5/public").find(" 429") != std::string::npos);
  raw_ws_client b1(x.venue_port(), "/ws/btcusdt@trade");
  CHECK(upgrade_error(x.venue_port(), "/ws/btcusdt@trade").find(" 429") != std::string::npos);
  CHECK(limits(x, "okx")["connect_refused_limit"] == 1);
  CHECK(limits(x, "binance")["connect_refused_limit"] == 1);
  // The OKX window slides: a client that retries slower than the limit (2 per 1 s) gets in
  // again. Refused attempts count too, so one retrying faster than that stays locked out.
  bool accepted = false;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!accepted && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(700ms);
    accepted = upgrade_error(x.venue_port(), "/ws/v5/public").empty();
  }
  CHECK(accepted);
}

TEST_CASE("exsim --no-connect-limits accepts any number of connection attempts") {
  exsim_process x(plain({"--rate", "10", "--okx-connect-limit", "1", "--no-connect-limits"}));
  raw_ws_client a(x.venue_port(), "/ws/v5/public");
  raw_ws_client b(x.venue_port(), "/ws/v5/public");
  raw_ws_client c(x.venue_port(), "/ws/v5/public");
  CHECK(limits(x, "okx")["connect_refused_limit"] == 0);
}

TEST_CASE("exsim --quiet: a quiet instrument has no trades and no book changes for its seconds, then trades") {
  // exsim's quiet time starts before it reports ready: the test's own 2 s window lies inside
  // exsim's 3 s with a second to spare for a slow start.
  exsim_process x(plain({"--rate", "2000", "--quiet", "BTC-USDT:3", "--quiet", "BTCUSDT:3", "--okx-book-heartbeat-ms", "400"}));
  const auto started = std::chrono::steady_clock::now();
  const auto seq0 = http_request(x.okx_rest_port(), "GET", "/api/v5/market/books?instId=BTC-USDT&sz=1").json()["data"][0]["seqId"];
  const auto id0 = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=1").json()["lastUpdateId"];
  ws_loop loop;
  auto& o = loop.connect(x.venue_port(), "/ws/v5/public");
  o.send(R"({"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"ETH-USDT"}]})");
  int quiet_trades = 0, heartbeats = 0, eth_trades = 0, btc_trades_after = 0;
  REQUIRE(loop.pump_until([&] {
    while (!o.messages.empty()) {
      const auto m = json::parse(o.pop());
      if (m.contains("event")) continue;
      const bool quiet_time = std::chrono::steady_clock::now() - started < 2000ms;
      const auto ch = m["arg"]["channel"].get<std::string>();
      const auto inst = m["arg"]["instId"].get<std::string>();
      if (ch == "trades" && inst == "ETH-USDT") ++eth_trades;
      if (ch == "trades" && inst == "BTC-USDT") (quiet_time ? quiet_trades : btc_trades_after) += 1;
      if (ch == "books" && quiet_time) {
        const auto& d = m["data"][0];
        CHECK(d["asks"].empty());  // only heartbeats while quiet
        CHECK(d["bids"].empty());
        CHECK(d["seqId"] == seq0);
        ++heartbeats;
      }
    }
    return btc_trades_after >= 5;
  }, 10s));
  CHECK(quiet_trades == 0);
  CHECK(heartbeats >= 3);
  CHECK(eth_trades > 0);
  CHECK(std::chrono::steady_clock::now() - started >= 2s);  // trades came back only after the quiet time
  CHECK(http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=1").json()["lastUpdateId"] != id0);
}

TEST_CASE("exsim okx a quiet-instrument subscriber that pings stays open, one that sends nothing is cut") {
  exsim_process x(plain({"--rate", "500", "--quiet", "BTC-USDT:30", "--okx-idle-timeout-ms", "800"}));
  ws_loop loop;
  auto& pinger = loop.connect(x.venue_port(), "/ws/v5/public");
  auto& silent = loop.connect(x.venue_port(), "/ws/v5/public");
  for (auto* c : {&pinger, &silent}) c->send(R"({"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]})");
  // The pinger sends ping every 300 ms (< the 800 ms cut); exsim's pong is what it pushes.
  const auto until = std::chrono::steady_clock::now() + 2500ms;
  while (std::chrono::steady_clock::now() < until) {
    pinger.send("ping");
    loop.pump_for(300ms);
  }
  CHECK_FALSE(pinger.closed);
  REQUIRE(silent.closed);
  CHECK(silent.close_code == 4004);
  const double t = std::chrono::duration<double>(silent.closed_at - silent.connected_at).count();
  CHECK(t >= 0.7);
  CHECK(t < 1.4);
}
