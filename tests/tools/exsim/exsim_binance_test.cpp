// exsim speaks Binance spot as the venue does: raw and combined streams, live control
// methods, diff depth with continuous U/u, REST snapshots that join the diff stream, wss://.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/tools/exsim/exsim_test_util.hpp"
#include "tools/exsim/decimal.hpp"

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
  c.send(R"({"method":"SUBSCRIBE","params":[42],"id":6})");  // not a stream name
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
  json snap = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000").json();
  const auto first_U = json::parse(c.messages.front())["U"].get<std::int64_t>();
  while (snap["lastUpdateId"].get<std::int64_t>() < first_U)
    snap = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000").json();
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
  const auto frozen = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000").json();
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
  const auto r = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=NOPE&limit=5");
  CHECK(r.status == 400);
  CHECK(r.json()["code"] == -1121);
  const auto ok = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=ETHUSDT&limit=7").json();
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

namespace {
/// Keys of a JSON object, sorted.
std::set<std::string> keys_of(const json& j) {
  std::set<std::string> k;
  for (const auto& [key, v] : j.items()) k.insert(key);
  return k;
}

/// A Binance decimal string ("61837.63000000": always 8 decimals) as a mantissa at scale 8.
std::int64_t binance_decimal(const json& v) {
  REQUIRE(v.is_string());
  const auto s = v.get<std::string>();
  REQUIRE(s.size() > 9);
  REQUIRE(s[s.size() - 9] == '.');
  std::int64_t out = 0;
  REQUIRE(mdbus::exsim::parse_decimal(s, 8, out));
  return out;
}

/// Checks a partial-depth payload: exactly lastUpdateId, bids, asks; n levels each; sorted; uncrossed.
void check_partial(const json& d, std::size_t n) {
  CHECK(keys_of(d) == std::set<std::string>{"lastUpdateId", "bids", "asks"});
  CHECK(d["lastUpdateId"].is_number_integer());
  REQUIRE(d["bids"].size() == n);
  REQUIRE(d["asks"].size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    REQUIRE(d["bids"][i].size() == 2);
    REQUIRE(d["asks"][i].size() == 2);
    CHECK(binance_decimal(d["bids"][i][1]) > 0);
    CHECK(binance_decimal(d["asks"][i][1]) > 0);
    if (i > 0) {
      CHECK(binance_decimal(d["bids"][i][0]) < binance_decimal(d["bids"][i - 1][0]));
      CHECK(binance_decimal(d["asks"][i][0]) > binance_decimal(d["asks"][i - 1][0]));
    }
  }
  CHECK(binance_decimal(d["bids"][0][0]) < binance_decimal(d["asks"][0][0]));
}
}  // namespace

TEST_CASE("exsim binance aggTrade has the venue fields and aggregates the trades f to l at one price") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/stream?streams=btcusdt@trade/btcusdt@aggTrade");
  std::map<std::int64_t, json> trades;  // t → trade
  std::int64_t prev_a = 0;
  int verified = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      const auto& d = j["data"];
      if (j["stream"] == "btcusdt@trade") {
        trades[d["t"].get<std::int64_t>()] = d;
        continue;
      }
      REQUIRE(j["stream"] == "btcusdt@aggTrade");
      CHECK(keys_of(d) == std::set<std::string>{"e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"});
      CHECK(d["e"] == "aggTrade");
      CHECK(d["s"] == "BTCUSDT");
      CHECK(d["E"].is_number_integer());
      CHECK(d["T"].is_number_integer());
      CHECK(d["m"].is_boolean());
      CHECK(d["M"] == true);
      const auto a = d["a"].get<std::int64_t>();
      if (prev_a != 0) CHECK(a == prev_a + 1);  // aggregate ids are consecutive
      prev_a = a;
      const auto f = d["f"].get<std::int64_t>();
      const auto l = d["l"].get<std::int64_t>();
      REQUIRE(f <= l);
      // The trades f..l arrive before their aggregate on the same connection (same action).
      if (trades.count(f) == 0) continue;  // joined mid-aggregate
      std::int64_t qty = 0;
      for (auto t = f; t <= l; ++t) {
        REQUIRE(trades.count(t) == 1);
        const auto& tr = trades[t];
        CHECK(tr["p"] == d["p"]);
        CHECK(tr["m"] == d["m"]);
        CHECK(tr["T"] == d["T"]);
        qty += binance_decimal(tr["q"]);
      }
      CHECK(qty == binance_decimal(d["q"]));
      ++verified;
    }
    return verified >= 20;
  }, 10s));
}

TEST_CASE("exsim binance bookTicker has only u, s, b, B, a, A and an uncrossed top of book") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/ethusdt@bookTicker");
  std::int64_t prev_u = 0;
  int n = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto d = json::parse(c.pop());
      CHECK(keys_of(d) == std::set<std::string>{"u", "s", "b", "B", "a", "A"});
      CHECK(d["s"] == "ETHUSDT");
      const auto u = d["u"].get<std::int64_t>();
      CHECK(u > prev_u);  // the diff-depth update id space: increasing, not consecutive
      prev_u = u;
      CHECK(binance_decimal(d["b"]) < binance_decimal(d["a"]));
      CHECK(binance_decimal(d["B"]) > 0);
      CHECK(binance_decimal(d["A"]) > 0);
      ++n;
    }
    return n >= 50;
  }, 10s));
}

TEST_CASE("exsim binance bookTicker and partial depth agree with the REST book once the market is paused") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/stream?streams=btcusdt@bookTicker/btcusdt@depth10/btcusdt@depth20@100ms");
  REQUIRE(wait_messages(loop, c, 20));
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":true})").status == 200);
  const auto rest = http_request(x.binance_rest_port(), "GET", "/api/v3/depth?symbol=BTCUSDT&limit=20").json();
  const auto id = rest["lastUpdateId"].get<std::int64_t>();
  // The last event of each stream describes the frozen book; the 1 s @depth10 may still be due.
  std::map<std::string, json> last;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      last[j["stream"].get<std::string>()] = j["data"];
    }
    return last.size() == 3 && last["btcusdt@depth10"]["lastUpdateId"] == id &&
           last["btcusdt@depth20@100ms"]["lastUpdateId"] == id;
  }, 5s));
  const auto& t = last["btcusdt@bookTicker"];
  CHECK(t["u"].get<std::int64_t>() <= id);  // the top last changed at or before the freeze
  CHECK(t["b"] == rest["bids"][0][0]);
  CHECK(t["B"] == rest["bids"][0][1]);
  CHECK(t["a"] == rest["asks"][0][0]);
  CHECK(t["A"] == rest["asks"][0][1]);
  for (const auto& [name, n] : {std::pair<std::string, std::size_t>{"btcusdt@depth10", 10}, {"btcusdt@depth20@100ms", 20}}) {
    INFO(name);
    const auto& d = last[name];
    check_partial(d, n);
    for (std::size_t i = 0; i < n; ++i) {
      CHECK(d["bids"][i] == rest["bids"][i]);
      CHECK(d["asks"][i] == rest["asks"][i]);
    }
  }
}

TEST_CASE("exsim binance depth5, depth10 and depth20 at 1000 ms and 100 ms are partial books of their size") {
  exsim_process x(plain({"--rate", "2000"}));
  ws_loop loop;
  const std::vector<std::string> names = {"btcusdt@depth5", "btcusdt@depth10", "btcusdt@depth20",
                                          "btcusdt@depth5@100ms", "btcusdt@depth10@100ms", "btcusdt@depth20@100ms"};
  std::string path = "/stream?streams=";
  for (const auto& n : names) path += n + (n == names.back() ? "" : "/");
  auto& c = loop.connect(x.venue_port(), path);
  std::map<std::string, int> count;
  std::map<std::string, std::int64_t> last_id;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      const auto s = j["stream"].get<std::string>();
      const auto at = s.find("@depth") + 6;
      const auto levels = static_cast<std::size_t>(std::stoi(s.substr(at)));
      INFO(s);
      check_partial(j["data"], levels);
      const auto id = j["data"]["lastUpdateId"].get<std::int64_t>();
      CHECK(id > last_id[s]);
      last_id[s] = id;
      ++count[s];
    }
    for (const auto& n : names)
      if (count[n] < 2) return false;
    return true;
  }, 10s));
  // The 100 ms variants are pushed about ten times as often as the 1000 ms ones.
  CHECK(count["btcusdt@depth5@100ms"] > 2 * count["btcusdt@depth5"]);
}

TEST_CASE("exsim binance UNSUBSCRIBE stops that stream from the reply on and leaves the others flowing") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws");
  REQUIRE(loop.pump_until([&] { return c.connected; }, 5s));
  c.send(R"({"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker"],"id":1})");
  std::set<std::string> kinds;  // "trade" / "bookTicker" seen since the last reset
  auto kind = [](const json& j) { return j.contains("e") ? j["e"].get<std::string>() : std::string("bookTicker"); };
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      if (!j.contains("result")) kinds.insert(kind(j));
    }
    return kinds.size() == 2;
  }, 5s));
  c.send(R"({"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":2})");
  bool replied = false;
  int tickers_after = 0, trades_after = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      if (j.contains("result")) {
        CHECK(j == json::parse(R"({"result":null,"id":2})"));
        replied = true;
      } else if (replied) {
        (kind(j) == "trade" ? trades_after : tickers_after) += 1;
      }
    }
    return tickers_after >= 100;
  }, 10s));
  CHECK(trades_after == 0);
  c.send(R"({"method":"LIST_SUBSCRIPTIONS","id":3})");
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto j = json::parse(c.pop());
      if (j.contains("result")) {
        CHECK(j == json::parse(R"({"result":["btcusdt@bookTicker"],"id":3})"));
        return true;
      }
    }
    return false;
  }, 5s));
}
