// exsim speaks OKX v5 public as the venue does today (2026-12): event replies and error events,
// text ping/pong, books updates chained by seqId/prevSeqId with no pushed snapshot and checksum
// 0, a REST snapshot on its own listener that joins the update chain, login-only l2-tbt
// channels; and, behind flags, the old snapshot push and real checksum.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/tools/exsim/exsim_test_util.hpp"

using namespace mdbus::test;

namespace {

/// Keys of a JSON object, sorted.
std::set<std::string> keys_of(const json& j) {
  std::set<std::string> k;
  for (const auto& [key, v] : j.items()) k.insert(key);
  return k;
}

/// An OKX decimal string as a number (for comparisons only).
double num(const json& v) {
  REQUIRE(v.is_string());
  return std::stod(v.get<std::string>());
}

/// Follows one OKX book channel on `c`: applies snapshot and updates, checks the chain and the
/// checksum of every message; returns the number of updates verified.
struct book_follower {
  okx_book book;
  std::int64_t last_seq = 0;
  bool have_snapshot = false;
  int updates = 0;

  void on(const json& msg) {
    const auto& d = msg["data"][0];
    const auto seq = d["seqId"].get<std::int64_t>();
    const auto prev = d["prevSeqId"].get<std::int64_t>();
    if (msg["action"] == "snapshot") {
      REQUIRE_FALSE(have_snapshot);
      CHECK(prev == -1);
      book = okx_book{};
      have_snapshot = true;
    } else {
      REQUIRE(have_snapshot);
      CHECK(msg["action"] == "update");
      REQUIRE(prev == last_seq);  // each update's prevSeqId is the previous seqId
      ++updates;
    }
    book.apply(d);
    last_seq = seq;
    REQUIRE(d["checksum"].get<std::int32_t>() == book.checksum());
  }
};

}  // namespace

TEST_CASE("exsim okx subscribe acks each arg with the request id and connId") {
  exsim_process x(plain({"--rate", "1000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"id":"1512","op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"ETH-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 2));
  const auto a1 = json::parse(c.pop());
  const auto a2 = json::parse(c.pop());
  CHECK(a1["id"] == "1512");
  CHECK(a1["event"] == "subscribe");
  CHECK(a1["arg"] == json::parse(R"({"channel":"trades","instId":"BTC-USDT"})"));
  CHECK(a1["connId"].is_string());
  CHECK(a2["arg"]["channel"] == "tickers");
  std::set<std::string> seen;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      const auto ch = m["arg"]["channel"].get<std::string>();
      const auto& d = m["data"][0];
      if (ch == "trades") {
        for (const char* f : {"instId", "tradeId", "px", "sz", "side", "ts", "count", "source"}) CHECK(d[f].is_string());
        CHECK(d["seqId"].is_number_integer());
      } else {
        CHECK(d["instType"] == "SPOT");
        for (const char* f : {"last", "lastSz", "askPx", "askSz", "bidPx", "bidSz", "open24h", "high24h", "low24h",
                              "vol24h", "volCcy24h", "ts"})
          CHECK(d[f].is_string());
      }
      seen.insert(ch);
    }
    return seen.size() == 2;
  }, 5s));
  c.send(R"({"op":"unsubscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]})");
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      if (m.contains("event")) {
        CHECK(m["event"] == "unsubscribe");
        return true;
      }
    }
    return false;
  }, 5s));
}

TEST_CASE("exsim okx bad requests get error events 60012, 60013, 60018 and 60019") {
  exsim_process x(plain({"--rate", "10"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send("{nope");
  c.send(R"({"op":"subscribe","args":[]})");
  c.send(R"({"id":"7","op":"subscribe","args":[{"channel":"books","instId":"DOGE-USDT"}]})");
  c.send(R"({"op":"fly","args":[{"channel":"books","instId":"BTC-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 4));
  std::vector<std::string> codes;
  for (int i = 0; i < 4; ++i) {
    const auto e = json::parse(c.pop());
    CHECK(e["event"] == "error");
    CHECK(e["msg"].is_string());
    CHECK(e["connId"].is_string());
    codes.push_back(e["code"].get<std::string>());
    if (i == 2) CHECK(e["id"] == "7");
  }
  CHECK(codes == std::vector<std::string>{"60012", "60013", "60018", "60019"});
}

TEST_CASE("exsim okx text ping is answered with text pong") {
  exsim_process x(plain({"--rate", "10"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send("ping");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(c.pop() == "pong");
}

TEST_CASE("exsim okx --okx-snapshot push --okx-checksum: snapshot then updates chain prevSeqId and every checksum verifies") {
  exsim_process x(plain({"--rate", "3000", "--okx-snapshot", "push", "--okx-checksum"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop())["event"] == "subscribe");
  book_follower f;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) f.on(json::parse(c.pop()));
    return f.updates >= 20;
  }, 10s));
  CHECK(f.book.bids.size() > 20);
}

TEST_CASE("exsim okx --okx-public-l2-tbt: books-l2-tbt subscribers joining at different times each get a chain that verifies") {
  exsim_process x(plain({"--rate", "3000", "--okx-public-l2-tbt", "--okx-snapshot", "push", "--okx-checksum"}));
  ws_loop loop;
  auto& a = loop.connect(x.venue_port(), "/ws/v5/public");
  a.send(R"({"op":"subscribe","args":[{"channel":"books-l2-tbt","instId":"ETH-USDT"}]})");
  book_follower fa, fb;
  REQUIRE(loop.pump_until([&] {
    while (a.messages.size() > 0) {
      const auto m = json::parse(a.pop());
      if (!m.contains("event")) fa.on(m);
    }
    return fa.updates >= 50;
  }, 10s));
  auto& b = loop.connect(x.venue_port(), "/ws/v5/public");
  b.send(R"({"op":"subscribe","args":[{"channel":"books-l2-tbt","instId":"ETH-USDT"}]})");
  REQUIRE(loop.pump_until([&] {
    while (!a.messages.empty()) fa.on(json::parse(a.pop()));
    while (!b.messages.empty()) {
      const auto m = json::parse(b.pop());
      if (!m.contains("event")) fb.on(m);
    }
    return fb.updates >= 50;
  }, 10s));
  // Same fan-out: once both have seen a seqId, their books agree.
  REQUIRE(loop.pump_until([&] {
    while (!a.messages.empty() && fa.last_seq < fb.last_seq) fa.on(json::parse(a.pop()));
    while (!b.messages.empty() && fb.last_seq < fa.last_seq) fb.on(json::parse(b.pop()));
    return fa.last_seq == fb.last_seq;
  }, 5s));
  CHECK(fa.book.bids == fb.book.bids);
  CHECK(fa.book.asks == fb.book.asks);
}

TEST_CASE("exsim okx books pushes no snapshot by default and the REST snapshot joins the update chain") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 2));
  CHECK(json::parse(c.pop())["event"] == "subscribe");
  CHECK(json::parse(c.messages.front())["action"] == "update");  // no pushed snapshot
  const auto rest = http_request(x.okx_rest_port(), "GET", "/api/v5/market/books?instId=BTC-USDT&sz=400").json();
  REQUIRE(rest["code"] == "0");
  const auto& snap = rest["data"][0];
  const auto snap_seq = snap["seqId"].get<std::int64_t>();
  okx_book book;
  book.apply(snap);
  std::int64_t last = 0;
  int applied = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      const auto& d = m["data"][0];
      const auto seq = d["seqId"].get<std::int64_t>();
      const auto prev = d["prevSeqId"].get<std::int64_t>();
      if (seq <= snap_seq) continue;
      if (applied == 0)
        REQUIRE((prev <= snap_seq && snap_seq < seq));  // the join rule
      else
        REQUIRE(prev == last);
      book.apply(d);
      last = seq;
      ++applied;
      REQUIRE(d["checksum"] == 0);  // production since 2026-06-23
      REQUIRE((!d["bids"].empty() || !d["asks"].empty() || prev == seq));
    }
    return applied >= 10;
  }, 10s));
}

TEST_CASE("exsim okx bbo-tbt and books5 carry seqIds and venue-shaped levels") {
  exsim_process x(plain({"--rate", "2000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"bbo-tbt","instId":"BTC-USDT"},{"channel":"books5","instId":"BTC-USDT"}]})");
  std::set<std::string> seen;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      if (m.contains("event")) continue;
      const auto ch = m["arg"]["channel"].get<std::string>();
      const auto& d = m["data"][0];
      CHECK(d["seqId"].is_number_integer());
      CHECK(d["ts"].is_string());
      const std::size_t n = ch == "bbo-tbt" ? 1 : 5;
      CHECK(d["bids"].size() == n);
      CHECK(d["asks"].size() == n);
      CHECK(d["asks"][0].size() == 4);
      CHECK(d["asks"][0][2] == "0");
      // bbo-tbt and books5 are snapshots with no action and no prevSeqId.
      CHECK_FALSE(m.contains("action"));
      CHECK_FALSE(d.contains("prevSeqId"));
      if (ch == "books5") {
        CHECK(keys_of(d) == std::set<std::string>{"asks", "bids", "instId", "ts", "seqId"});
        CHECK(d["instId"] == "BTC-USDT");
      } else {
        CHECK(keys_of(d) == std::set<std::string>{"asks", "bids", "ts", "seqId"});
      }
      seen.insert(ch);
    }
    return seen.size() == 2;
  }, 5s));
}

TEST_CASE("exsim okx tickers carry the venue fields, at most one per 100 ms, and track the top of book") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop())["event"] == "subscribe");
  std::int64_t prev_ts = 0;
  int n = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      CHECK(keys_of(m) == std::set<std::string>{"arg", "data"});  // no action, no sequence
      CHECK(m["arg"] == json::parse(R"({"channel":"tickers","instId":"BTC-USDT"})"));
      REQUIRE(m["data"].size() == 1);
      const auto& d = m["data"][0];
      CHECK(keys_of(d) == std::set<std::string>{"instType", "instId", "last", "lastSz", "askPx", "askSz", "bidPx",
                                                "bidSz", "open24h", "high24h", "low24h", "sodUtc0", "sodUtc8",
                                                "volCcy24h", "vol24h", "ts"});
      CHECK(d["instId"] == "BTC-USDT");
      CHECK(num(d["bidPx"]) < num(d["askPx"]));
      CHECK(num(d["bidSz"]) > 0);
      CHECK(num(d["askSz"]) > 0);
      CHECK(num(d["low24h"]) <= num(d["last"]));
      CHECK(num(d["last"]) <= num(d["high24h"]));
      CHECK(num(d["vol24h"]) >= 0);
      const auto ts = std::stoll(d["ts"].get<std::string>());
      if (prev_ts != 0) CHECK(ts - prev_ts >= 100);  // <= 1 update / 100 ms
      prev_ts = ts;
      ++n;
    }
    return n >= 10;
  }, 10s));
}

TEST_CASE("exsim okx tickers and bbo-tbt agree with the REST book once the market is paused") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"tickers","instId":"ETH-USDT"},{"channel":"bbo-tbt","instId":"ETH-USDT"}]})");
  std::map<std::string, json> last;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      if (!m.contains("event")) last[m["arg"]["channel"].get<std::string>()] = m["data"][0];
    }
    return last.size() == 2;
  }, 5s));
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":true})").status == 200);
  const auto rest = http_request(x.okx_rest_port(), "GET", "/api/v5/market/books?instId=ETH-USDT&sz=1").json();
  REQUIRE(rest["code"] == "0");
  const auto& top = rest["data"][0];
  // The tickers push that follows the freeze (<= 100 ms) shows the frozen top of book.
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      if (!m.contains("event")) last[m["arg"]["channel"].get<std::string>()] = m["data"][0];
    }
    const auto& t = last["tickers"];
    return t["bidPx"] == top["bids"][0][0] && t["bidSz"] == top["bids"][0][1] && t["askPx"] == top["asks"][0][0] &&
           t["askSz"] == top["asks"][0][1];
  }, 5s));
  CHECK(last["bbo-tbt"]["bids"][0] == top["bids"][0]);
  CHECK(last["bbo-tbt"]["asks"][0] == top["asks"][0]);
  CHECK(last["bbo-tbt"]["seqId"].get<std::int64_t>() <= top["seqId"].get<std::int64_t>());
}

TEST_CASE("exsim okx unsubscribe stops that channel from the ack on and leaves the others flowing") {
  exsim_process x(plain({"--rate", "4000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"bbo-tbt","instId":"BTC-USDT"}]})");
  std::set<std::string> seen;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      if (!m.contains("event")) seen.insert(m["arg"]["channel"].get<std::string>());
    }
    return seen.size() == 2;
  }, 5s));
  c.send(R"({"id":"u1","op":"unsubscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]})");
  bool acked = false;
  int bbo_after = 0, trades_after = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      if (m.contains("event")) {
        CHECK(m["event"] == "unsubscribe");
        CHECK(m["id"] == "u1");
        CHECK(m["arg"] == json::parse(R"({"channel":"trades","instId":"BTC-USDT"})"));
        acked = true;
      } else if (acked) {
        (m["arg"]["channel"] == "trades" ? trades_after : bbo_after) += 1;
      }
    }
    return bbo_after >= 100;
  }, 10s));
  CHECK(trades_after == 0);
}

TEST_CASE("exsim okx books sends an empty heartbeat update with prevSeqId equal to seqId when unchanged") {
  exsim_process x(plain({"--rate", "0", "--okx-book-heartbeat-ms", "300"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop())["event"] == "subscribe");
  const auto rest = http_request(x.okx_rest_port(), "GET", "/api/v5/market/books?instId=BTC-USDT&sz=5").json();
  const auto subscribed = std::chrono::steady_clock::now();
  REQUIRE(wait_messages(loop, c, 2));  // two heartbeats, no snapshot
  for (int i = 0; i < 2; ++i) {
    const auto hb = json::parse(c.pop());
    CHECK(hb["action"] == "update");
    const auto& d = hb["data"][0];
    CHECK(d["asks"].empty());
    CHECK(d["bids"].empty());
    CHECK(d["seqId"] == rest["data"][0]["seqId"]);
    CHECK(d["prevSeqId"] == d["seqId"]);
    CHECK(d["checksum"] == 0);
  }
  CHECK(std::chrono::steady_clock::now() - subscribed <= 1500ms);
}

TEST_CASE("exsim okx --okx-checksum sends the real CRC, the default is 0 as production since 2026-06-23") {
  for (const bool real : {false, true}) {
    INFO("real checksum: " << real);
    exsim_process x(plain(real ? std::vector<std::string>{"--rate", "2000", "--okx-checksum"}
                               : std::vector<std::string>{"--rate", "2000"}));
    ws_loop loop;
    auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
    c.send(R"({"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]})");
    REQUIRE(wait_messages(loop, c, 4));
    c.pop();  // ack
    for (int i = 0; i < 3; ++i) CHECK((json::parse(c.pop())["data"][0]["checksum"] != 0) == real);
  }
}

TEST_CASE("exsim okx public subscriptions to books-l2-tbt and books50-l2-tbt get 60011 Please log in") {
  exsim_process x(plain({"--rate", "1000"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send(R"({"id":"9","op":"subscribe","args":[{"channel":"books-l2-tbt","instId":"BTC-USDT"},{"channel":"books50-l2-tbt","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"}]})");
  REQUIRE(wait_messages(loop, c, 3));
  for (int i = 0; i < 2; ++i) {
    const auto e = json::parse(c.pop());
    CHECK(e["event"] == "error");
    CHECK(e["code"] == "60011");
    CHECK(e["msg"] == "Please log in");
    CHECK(e["id"] == "9");
  }
  CHECK(json::parse(c.pop())["event"] == "subscribe");  // the public channel in the same request
  int other = 0;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) other += json::parse(c.pop())["arg"]["channel"] != "trades" ? 1 : 0;
    return c.received >= 10;
  }, 5s));
  CHECK(other == 0);
  CHECK_FALSE(c.closed);
}

TEST_CASE("exsim okx subscribe requests over the per-connection limit get 60014 and are counted") {
  exsim_process x(plain({"--rate", "10", "--okx-subscribe-limit", "3", "--okx-subscribe-window-ms", "1500"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  for (int i = 0; i < 4; ++i)
    c.send(R"({"id":")" + std::to_string(i) + R"(","op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]})");
  std::vector<json> events;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto m = json::parse(c.pop());
      if (m.contains("event")) events.push_back(m);
    }
    return events.size() >= 4;
  }, 5s));
  CHECK(events[2]["event"] == "subscribe");
  CHECK(events[3]["event"] == "error");
  CHECK(events[3]["code"] == "60014");
  CHECK(events[3]["id"] == "3");
  const auto st = http_request(x.control_port(), "GET", "/status").json();
  CHECK(st["limits"]["okx"]["subscribe_refused_limit"] == 1);
  // The window slides: once it has passed, requests are accepted again on the same connection
  // (pinging meanwhile keeps the line open).
  for (int i = 0; i < 4; ++i) {
    c.send("ping");
    loop.pump_for(450ms);
  }
  c.send(R"({"id":"late","op":"unsubscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]})");
  json reply;
  REQUIRE(loop.pump_until([&] {
    while (!c.messages.empty()) {
      const auto text = c.pop();
      if (text == "pong") continue;
      const auto m = json::parse(text);
      if (m.value("id", "") == "late") reply = m;
    }
    return !reply.is_null();
  }, 5s));
  CHECK(reply["event"] == "unsubscribe");
  CHECK_FALSE(c.closed);
}

TEST_CASE("exsim okx a request that is not UTF-8 gets error 60012 and the connection lives on") {
  exsim_process x(plain({"--rate", "10"}));
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/v5/public");
  c.send("\xff\xfe{");
  REQUIRE(wait_messages(loop, c, 1));
  const auto e = json::parse(c.pop());
  CHECK(e["event"] == "error");
  CHECK(e["code"] == "60012");
  c.send("ping");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(c.pop() == "pong");
}
