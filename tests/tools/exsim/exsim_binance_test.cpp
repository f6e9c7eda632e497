// exsim speaks Binance spot as the venue does: raw and combined streams, live control
// methods, diff depth with continuous U/u, REST snapshots that join the diff stream, wss://.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/support/run_capture.hpp"
#include "tests/tools/exsim/exsim_test_util.hpp"

using namespace mdbus::test;

namespace {
using binance_book = std::map<std::string, std::string>;  // price text → qty text (fixed 8 decimals)

void apply_levels(binance_book& book, const json& levels) {
  for (const auto& l : levels) {
    const auto px = l[0].get<std::string>();
    const auto q = l[1].get<std::string>();
    if (q == "0.00000000") book.erase(px); else book[px] = q;
  }
}
}  // namespace

TEST_CASE("exsim --help lists its options and a start-up prints what it serves") {
  const auto help = run_capture(exsim_binary() + " --help");
  CHECK(help.status == 0);
  CHECK(help.out.find("--rate") != std::string::npos);
  CHECK(help.out.find("--okx-idle-timeout-ms") != std::string::npos);
  exsim_process x(plain());
  const auto& out = x.output();
  CHECK(out.find("binance BTCUSDT ETHUSDT: ws://127.0.0.1:" + std::to_string(x.venue_port())) != std::string::npos);
  CHECK(out.find("okx BTC-USDT ETH-USDT") != std::string::npos);
  CHECK(out.find("control http://127.0.0.1:" + std::to_string(x.control_port())) != std::string::npos);
}

TEST_CASE("exsim binance raw stream delivers trades with consecutive trade ids and decimal strings") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/btcusdt@trade");
  REQUIRE(wait_messages(loop, c, 30));
  std::int64_t prev = -1;
  for (int i = 0; i < 30; ++i) {
    const auto j = json::parse(c.pop());
    CHECK(j["e"] == "trade");
    CHECK(j["s"] == "BTCUSDT");
    CHECK(j["p"].is_string());
    CHECK(j["q"].get<std::string>().find('.') == j["q"].get<std::string>().size() - 9);  // 8 decimals
    CHECK(j["m"].is_boolean());
    CHECK(j["M"] == true);
    const auto t = j["t"].get<std::int64_t>();
    if (prev >= 0) CHECK(t == prev + 1);
    prev = t;
  }
}

TEST_CASE("exsim binance combined stream wraps every event as stream and data") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/stream?streams=btcusdt@trade/ethusdt@bookTicker/btcusdt@depth@100ms/btcusdt@aggTrade");
  std::set<std::string> seen;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      REQUIRE(j.size() == 2);
      REQUIRE(j.contains("stream"));
      REQUIRE(j.contains("data"));
      const auto s = j["stream"].get<std::string>();
      seen.insert(s);
      const auto& d = j["data"];
      if (s == "ethusdt@bookTicker") {
        CHECK_FALSE(d.contains("e"));
        CHECK_FALSE(d.contains("E"));
        CHECK(d["s"] == "ETHUSDT");
        CHECK(d.contains("u"));
      } else if (s == "btcusdt@depth@100ms") {
        CHECK(d["e"] == "depthUpdate");
      } else if (s == "btcusdt@aggTrade") {
        CHECK(d["e"] == "aggTrade");
        CHECK(d["l"].get<std::int64_t>() >= d["f"].get<std::int64_t>());
      } else {
        CHECK(s == "btcusdt@trade");
      }
    }
    return seen.size() == 4;
  }, 5s));
}

TEST_CASE("exsim binance SUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and UNSUBSCRIBE reply with the request id") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws");
  REQUIRE(loop.pump_until([&] { return c.connected; }, 5s));
  c.send(R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1})");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop()) == json::parse(R"({"result":null,"id":1})"));
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop())["e"] == "aggTrade");  // raw: not wrapped
  c.send(R"({"method":"LIST_SUBSCRIPTIONS","id":"abc"})");
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      if (j.contains("result")) {
        CHECK(j == json::parse(R"({"result":["btcusdt@aggTrade"],"id":"abc"})"));
        return true;
      }
    }
    return false;
  }, 5s));
  c.send(R"({"method":"SET_PROPERTY","params":["combined",true],"id":2})");
  bool wrapped = false;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      if (j.contains("stream")) {
        CHECK(j["stream"] == "btcusdt@aggTrade");
        wrapped = true;
      }
    }
    return wrapped;
  }, 5s));
  c.send(R"({"method":"UNSUBSCRIBE","params":["btcusdt@aggTrade"],"id":3})");
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty())
      if (json::parse(c.pop()) == json::parse(R"({"result":null,"id":3})")) return true;
    return false;
  }, 5s));
  c.messages.clear();
  loop.pump_for(300ms);
  CHECK(c.messages.empty());
}

TEST_CASE("exsim binance bad requests get error codes 0 to 3 and a sixth message in a second closes") {
  exsim_process x(plain({"--rate", "10"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws");
  REQUIRE(loop.pump_until([&] { return c.connected; }, 5s));
  c.send("{not json");
  c.send(R"({"method":"FLY","id":5})");
  c.send(R"({"method":"SUBSCRIBE","params":["nosuch@trade"],"id":6})");
  c.send(R"({"method":"SET_PROPERTY","params":["colour",true],"id":7})");
  c.send(R"({"method":"SET_PROPERTY","params":["combined","yes"],"id":8})");
  REQUIRE(wait_messages(loop, c, 5));
  const auto e3 = json::parse(c.pop());
  CHECK(e3["code"] == 3);
  CHECK(e3["msg"].get<std::string>().rfind("Invalid JSON: expected value at line 1 column ", 0) == 0);
  const auto e2 = json::parse(c.pop());
  CHECK(e2["code"] == 2);
  CHECK(e2["id"] == 5);
  CHECK(json::parse(c.pop())["code"] == 2);
  const auto e0 = json::parse(c.pop());
  CHECK(e0["code"] == 0);
  CHECK(e0["msg"] == "Unknown property");
  CHECK(json::parse(c.pop())["code"] == 1);
  c.send(R"({"method":"LIST_SUBSCRIPTIONS","id":9})");  // the sixth within a second
  REQUIRE(loop.pump_until([&] { return c.closed; }, 5s));
  CHECK(c.close_code == 1008);
}

TEST_CASE("exsim binance diff depth events chain U to the previous u plus one on both depth streams") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/stream?streams=btcusdt@depth@100ms/btcusdt@depth/btcusdt@bookTicker");
  std::map<std::string, std::int64_t> last_u;
  std::map<std::string, int> count;
  std::int64_t ticker_u = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      const auto s = j["stream"].get<std::string>();
      const auto& d = j["data"];
      if (s == "btcusdt@bookTicker") {
        CHECK(d["u"].get<std::int64_t>() > ticker_u);
        ticker_u = d["u"].get<std::int64_t>();
        continue;
      }
      const auto U = d["U"].get<std::int64_t>();
      const auto u = d["u"].get<std::int64_t>();
      CHECK(U <= u);
      if (last_u.count(s) != 0) CHECK(U == last_u[s] + 1);
      last_u[s] = u;
      ++count[s];
    }
    return count["btcusdt@depth@100ms"] >= 15 && count["btcusdt@depth"] >= 3;
  }, 10s));
}

TEST_CASE("exsim binance REST depth snapshot plus buffered diff events reproduce the book") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/btcusdt@depth@100ms");
  REQUIRE(wait_messages(loop, c, 2));  // 1. buffer events, note the first U
  // 2. snapshot; 3. refetch while it is older than the first buffered event
  json snap = http_request(x.venue_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000").json();
  const auto first_U = json::parse(c.messages.front())["U"].get<std::int64_t>();
  while (snap["lastUpdateId"].get<std::int64_t>() < first_U)
    snap = http_request(x.venue_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000").json();
  binance_book bids, asks;
  apply_levels(bids, snap["bids"]);
  apply_levels(asks, snap["asks"]);
  std::int64_t local = snap["lastUpdateId"].get<std::int64_t>();
  bool first = true;
  int applied = 0;
  auto drain = [&] {
    while (!c.messages.empty()) {
      const auto d = json::parse(c.pop());
      const auto U = d["U"].get<std::int64_t>();
      const auto u = d["u"].get<std::int64_t>();
      if (u <= local) continue;  // 4. drop events the snapshot already holds
      if (first) {
        REQUIRE(U <= local + 1);  // the first kept event straddles the snapshot
        first = false;
      } else {
        REQUIRE(U == local + 1);  // 5. no hole
      }
      apply_levels(bids, d["b"]);
      apply_levels(asks, d["a"]);
      local = u;
      ++applied;
    }
  };
  REQUIRE(loop.pump_until([&] { drain(); return applied >= 10; }, 10s));
  // Freeze the market; once the stream has caught up with the frozen book, they must agree.
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":true})").status == 200);
  const auto frozen = http_request(x.venue_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000").json();
  REQUIRE(loop.pump_until([&] { drain(); return local == frozen["lastUpdateId"].get<std::int64_t>(); }, 5s));
  binance_book fb, fa;
  apply_levels(fb, frozen["bids"]);
  apply_levels(fa, frozen["asks"]);
  CHECK(bids == fb);
  CHECK(asks == fa);
  CHECK(fb.size() > 20);
}

TEST_CASE("exsim binance partial depth carries lastUpdateId, bids and asks only") {
  exsim_process x(plain({"--rate", "2000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/stream?streams=ethusdt@depth5@100ms/ethusdt@depth20");
  std::set<std::string> seen;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      const auto& d = j["data"];
      CHECK(d.size() == 3);
      const std::size_t n = j["stream"] == "ethusdt@depth5@100ms" ? 5 : 20;
      CHECK(d["bids"].size() == n);
      CHECK(d["asks"].size() == n);
      CHECK(d["lastUpdateId"].is_number_integer());
      seen.insert(j["stream"].get<std::string>());
    }
    return seen.size() == 2;
  }, 5s));
}

TEST_CASE("exsim binance REST rejects an unknown symbol with the venue's error") {
  exsim_process x(plain());
  const auto r = http_request(x.venue_port(), "GET", "/api/v3/depth?symbol=NOPE&limit=5");
  CHECK(r.status == 400);
  CHECK(r.json()["code"] == -1121);
  const auto ok = http_request(x.venue_port(), "GET", "/api/v3/depth?symbol=ETHUSDT&limit=7").json();
  CHECK(ok["bids"].size() == 7);
  CHECK(ok["asks"].size() == 7);
}

TEST_CASE("exsim wss with a certificate from the locally generated CA serves the same streams") {
  const std::string dir = exsim_cert_dir();
  exsim_process x({"--tls-cert", dir + "/server.pem", "--tls-key", dir + "/server.key", "--rate", "2000"});
  ws_loop loop(dir + "/ca.pem");
  auto& c = loop.connect(x.venue_port(), "/stream?streams=btcusdt@trade", true);
  REQUIRE(wait_messages(loop, c, 5));
  CHECK(json::parse(c.pop())["stream"] == "btcusdt@trade");
  CHECK(x.output().find("wss://127.0.0.1:" + std::to_string(x.venue_port())) != std::string::npos);
}
