// exsim reproduces the venues' own cuts on a compressed clock: Binance's maximum connection
// age and ping/pong timeout, OKX's idle timeout — each on time, each configurable.
#include <doctest/doctest.h>

#include "tests/tools/exsim/exsim_test_util.hpp"
#include "tests/tools/exsim/raw_ws_client.hpp"

using namespace mdbus::test;

namespace {
double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

TEST_CASE("exsim okx connection with no client message and nothing pushed is closed after the idle timeout") {
  exsim_process x(plain({"--rate", "0", "--okx-idle-timeout-ms", "1000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  REQUIRE(loop.pump_until([&] { return c.connected; }, 5s));
  REQUIRE(loop.pump_until([&] { return c.closed; }, 5s));
  const double t = seconds_between(c.connected_at, c.closed_at);
  CHECK(t >= 0.9);
  CHECK(t < 1.6);
  CHECK(c.close_code == 4004);
}

TEST_CASE("exsim okx client text ping keeps a subscribed quiet connection open past the idle timeout") {
  exsim_process x(plain({"--rate", "0", "--okx-idle-timeout-ms", "800"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop())["event"] == "subscribe");
  for (int i = 0; i < 6; ++i) {
    c.send("ping");
    loop.pump_for(300ms);
  }
  CHECK_FALSE(c.closed);
  std::size_t pongs = 0;
  for (const auto& m : c.messages) pongs += m == "pong" ? 1 : 0;
  CHECK(pongs == 6);
}

TEST_CASE("exsim okx connection that never subscribes is cut at the idle timeout even though it pings") {
  // OKX v5 "WebSocket: connect" (2026-12; feeders/CONFORMANCE.md "Connections and keepalive"):
  // a connection that never subscribes is cut at 30 s regardless.
  exsim_process x(plain({"--rate", "0", "--okx-idle-timeout-ms", "800"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  REQUIRE(loop.pump_until([&] { return c.connected; }, 5s));
  for (int i = 0; i < 10 && !c.closed; ++i) {
    c.send("ping");
    loop.pump_until([&] { return c.closed; }, 200ms);
  }
  REQUIRE(c.closed);
  const double t = seconds_between(c.connected_at, c.closed_at);
  CHECK(t >= 0.7);
  CHECK(t < 1.4);
  CHECK(c.close_code == 4004);
}

TEST_CASE("exsim okx connection subscribed to a 1 msg/s market stays open while data is pushed") {
  exsim_process x(plain({"--rate", "4", "--okx-idle-timeout-ms", "1500"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]})");
  loop.pump_for(3000ms);
  CHECK_FALSE(c.closed);
  CHECK(c.received >= 2);
}

TEST_CASE("exsim binance connection is closed at the maximum connection age") {
  exsim_process x(plain({"--rate", "100", "--binance-max-age-ms", "1500"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/btcusdt@trade");
  REQUIRE(loop.pump_until([&] { return c.connected; }, 5s));
  REQUIRE(loop.pump_until([&] { return c.closed; }, 5s));
  const double t = seconds_between(c.connected_at, c.closed_at);
  CHECK(t >= 1.4);
  CHECK(t < 2.1);
  CHECK(c.close_code == 1000);
}

TEST_CASE("exsim binance server pings on its interval and closes a connection that never pongs") {
  exsim_process x(plain({"--rate", "0", "--binance-ping-interval-ms", "300", "--binance-pong-timeout-ms", "1000"}));
  raw_ws_client c(x.venue_port(), "/ws/btcusdt@trade");
  const auto start = std::chrono::steady_clock::now();
  int pings = 0;
  std::chrono::steady_clock::time_point first_ping;
  for (;;) {
    const auto f = c.read_frame(5000ms);
    REQUIRE(f.has_value());
    if (f->opcode == 0x9) {
      if (pings++ == 0) first_ping = std::chrono::steady_clock::now();
      CHECK_FALSE(f->payload.empty());
      continue;
    }
    CHECK((f->opcode == 0x8 || f->opcode == -1));  // close frame, or the connection ends
    break;
  }
  const double first = seconds_between(start, first_ping);
  const double closed = seconds_between(first_ping, std::chrono::steady_clock::now());
  CHECK(first >= 0.25);
  CHECK(first < 0.6);
  CHECK(closed >= 0.95);
  CHECK(closed < 1.5);
  CHECK(pings >= 3);
}

TEST_CASE("exsim binance connection that answers pings with their payload stays open") {
  exsim_process x(plain({"--rate", "0", "--binance-ping-interval-ms", "200", "--binance-pong-timeout-ms", "600"}));
  raw_ws_client c(x.venue_port(), "/ws/btcusdt@trade");
  const auto until = std::chrono::steady_clock::now() + 2s;
  int pings = 0;
  while (std::chrono::steady_clock::now() < until) {
    const auto f = c.read_frame(100ms);
    if (!f) continue;
    REQUIRE(f->opcode == 0x9);  // never a close
    c.send(0xA, f->payload);
    ++pings;
  }
  CHECK(pings >= 8);
}
