// Every fault exsim injects on command through POST /fault changes what the targeted
// connection sees, and only that connection.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "tests/tools/exsim/exsim_test_util.hpp"

using namespace mdbus::test;

namespace {

std::int64_t trade_id(const std::string& m) { return json::parse(m)["t"].get<std::int64_t>(); }

/// exsim, a loop and two connections to btcusdt@trade (ids a_id, b_id).
struct two_lines {
  exsim_process x{plain({"--rate", "3000"})};
  ws_loop loop;
  ws_conn& a = loop.connect(x.venue_port(), "/ws/btcusdt@trade");
  ws_conn& b = loop.connect(x.venue_port(), "/ws/btcusdt@trade?line=b");
  std::uint32_t a_id = 0, b_id = 0;
  two_lines() {
    REQUIRE(loop.pump_until([&] { return a.connected && b.connected; }, 5s));
    for (const auto& c : get_connections(x)) {
      if (c["path"] == "/ws/btcusdt@trade") a_id = c["id"].get<std::uint32_t>();
      if (c["path"] == "/ws/btcusdt@trade?line=b") b_id = c["id"].get<std::uint32_t>();
    }
    REQUIRE(a_id != 0);
    REQUIRE(b_id != 0);
  }
};

}  // namespace

TEST_CASE("exsim GET /connections lists each connection with venue, age and streams") {
  two_lines t;
  const auto list = get_connections(t.x);
  REQUIRE(list.size() == 2);
  for (const auto& c : list) {
    CHECK(c["venue"] == "binance");
    CHECK(c["streams"] == json::array({"btcusdt@trade"}));
    CHECK(c["age_ms"].is_number_integer());
  }
}

TEST_CASE("exsim fault drop closes one connection now and leaves the other streaming") {
  two_lines t;
  CHECK(post_fault(t.x, {{"type", "drop"}, {"conn", t.a_id}})["ok"] == true);
  REQUIRE(t.loop.pump_until([&] { return t.a.closed; }, 5s));
  const auto before = t.b.received;
  REQUIRE(t.loop.pump_until([&] { return t.b.received > before + 10; }, 5s));
  CHECK_FALSE(t.b.closed);
}

TEST_CASE("exsim fault drop_venue closes every connection of that venue only") {
  exsim_process x(plain({"--rate", "2000"}));
  ws_loop loop;
  auto& b1 = loop.connect(x.venue_port(), "/ws/btcusdt@trade");
  auto& b2 = loop.connect(x.venue_port(), "/ws/ethusdt@trade");
  auto& o = loop.connect(x.venue_port(), "/ws/v5/public");
  REQUIRE(loop.pump_until([&] { return b1.connected && b2.connected && o.connected; }, 5s));
  const auto r = post_fault(x, {{"type", "drop_venue"}, {"venue", "binance"}});
  CHECK(r["affected"].size() == 2);
  REQUIRE(loop.pump_until([&] { return b1.closed && b2.closed; }, 5s));
  o.send("ping");
  REQUIRE(wait_messages(loop, o, 1));
  CHECK(o.pop() == "pong");
}

TEST_CASE("exsim fault stall keeps the connection open and silent until unstalled") {
  two_lines t;
  CHECK(post_fault(t.x, {{"type", "stall"}, {"conn", t.a_id}})["ok"] == true);
  t.loop.pump_for(100ms);  // frames already in flight may still land
  const auto a0 = t.a.received;
  const auto b0 = t.b.received;
  t.loop.pump_for(500ms);
  CHECK(t.a.received == a0);
  CHECK(t.b.received > b0 + 50);
  CHECK_FALSE(t.a.closed);
  CHECK(post_fault(t.x, {{"type", "unstall"}, {"conn", t.a_id}})["ok"] == true);
  REQUIRE(t.loop.pump_until([&] { return t.a.received > a0 + 10; }, 5s));
}

TEST_CASE("exsim fault malformed sends a frame that is not valid JSON") {
  two_lines t;
  REQUIRE(wait_messages(t.loop, t.a, 1));
  t.a.messages.clear();
  CHECK(post_fault(t.x, {{"type", "malformed"}, {"conn", t.a_id}})["ok"] == true);
  bool found = false;
  REQUIRE(t.loop.pump_until([&] {
    while (!t.a.messages.empty())
      if (!json::accept(t.a.pop())) found = true;
    return found;
  }, 5s));
}

TEST_CASE("exsim fault oversized sends one frame of the requested size") {
  two_lines t;
  CHECK(post_fault(t.x, {{"type", "oversized"}, {"conn", t.a_id}, {"bytes", 3 << 20}})["ok"] == true);
  bool found = false;
  REQUIRE(t.loop.pump_until([&] {
    while (!t.a.messages.empty())
      if (t.a.pop().size() == (3U << 20)) found = true;
    return found;
  }, 10s));
}

TEST_CASE("exsim fault duplicate sends the next event twice on that connection only") {
  two_lines t;
  REQUIRE(wait_messages(t.loop, t.a, 1));
  CHECK(post_fault(t.x, {{"type", "duplicate"}, {"conn", t.a_id}})["ok"] == true);
  int dups_a = 0, dups_b = 0;
  std::int64_t prev_a = 0, prev_b = 0;
  t.loop.pump_until([&] {
    while (!t.a.messages.empty()) {
      const auto id = trade_id(t.a.pop());
      if (id == prev_a) ++dups_a; else if (prev_a != 0) REQUIRE(id == prev_a + 1);
      prev_a = id;
    }
    while (!t.b.messages.empty()) {
      const auto id = trade_id(t.b.pop());
      if (id == prev_b) ++dups_b;
      prev_b = id;
    }
    return dups_a > 0 && t.a.received > 200;
  }, 5s);
  CHECK(dups_a == 1);
  CHECK(dups_b == 0);
}

TEST_CASE("exsim fault reorder swaps the next two events on that connection") {
  two_lines t;
  REQUIRE(wait_messages(t.loop, t.a, 1));
  CHECK(post_fault(t.x, {{"type", "reorder"}, {"conn", t.a_id}})["ok"] == true);
  std::vector<std::int64_t> ids;
  t.loop.pump_until([&] {
    while (!t.a.messages.empty()) ids.push_back(trade_id(t.a.pop()));
    return ids.size() > 300;
  }, 5s);
  int backwards = 0;
  for (std::size_t i = 1; i < ids.size(); ++i)
    if (ids[i] < ids[i - 1]) {
      ++backwards;
      CHECK(ids[i] == ids[i - 1] - 1);
    }
  CHECK(backwards == 1);
}

TEST_CASE("exsim fault refuse rejects new connections for the given time, then accepts them") {
  exsim_process x(plain({"--rate", "100"}));
  const auto start = std::chrono::steady_clock::now();
  CHECK(post_fault(x, {{"type", "refuse"}, {"ms", 1000}})["ok"] == true);
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/btcusdt@trade");
  REQUIRE(loop.pump_until([&] { return c.closed || c.connected; }, 5s));
  CHECK_FALSE(c.connected);
  CHECK(http_request(x.control_port(), "GET", "/status").json()["refused"].get<int>() >= 1);
  // Once the window has passed, a new connection is accepted.
  loop.pump_until([&] { return std::chrono::steady_clock::now() - start > 1100ms; }, 5s);
  auto& later = loop.connect(x.venue_port(), "/ws/v5/public");
  REQUIRE(loop.pump_until([&] { return later.closed || later.connected; }, 5s));
  CHECK(later.connected);
}

TEST_CASE("exsim fault delay makes one line slower than the other by the delay") {
  two_lines t;
  CHECK(post_fault(t.x, {{"type", "delay"}, {"conn", t.a_id}, {"ms", 300}})["ok"] == true);
  t.loop.pump_for(50ms);
  t.a.messages.clear();
  t.b.messages.clear();
  // The trade id b sees now reaches a about 300 ms later.
  REQUIRE(wait_messages(t.loop, t.b, 1));
  const auto target = trade_id(t.b.messages.back());
  const auto seen_b = std::chrono::steady_clock::now();
  REQUIRE(t.loop.pump_until([&] {
    while (!t.a.messages.empty())
      if (trade_id(t.a.pop()) >= target) return true;
    return false;
  }, 5s));
  const double lag = std::chrono::duration<double>(std::chrono::steady_clock::now() - seen_b).count();
  CHECK(lag >= 0.25);
  CHECK(lag < 0.5);
}

TEST_CASE("exsim fault shutdown_notice sends the venue's going-away event") {
  exsim_process x(plain({"--rate", "10"}));
  ws_loop loop;
  auto& b = loop.connect(x.venue_port(), "/stream?streams=btcusdt@trade");
  auto& o = loop.connect(x.venue_port(), "/ws/v5/public");
  REQUIRE(loop.pump_until([&] { return b.connected && o.connected; }, 5s));
  CHECK(post_fault(x, {{"type", "shutdown_notice"}, {"venue", "binance"}})["ok"] == true);
  CHECK(post_fault(x, {{"type", "shutdown_notice"}, {"venue", "okx"}})["ok"] == true);
  bool bn = false;
  REQUIRE(loop.pump_until([&] {
    while (!b.messages.empty()) {
      const auto m = json::parse(b.pop());
      bn = bn || (m["stream"] == "!serverShutdown" && m["data"]["e"] == "serverShutdown");
    }
    return bn && !o.messages.empty();
  }, 5s));
  const auto n = json::parse(o.pop());
  CHECK(n["event"] == "notice");
  CHECK(n["code"] == "64008");
}

TEST_CASE("exsim a bad fault request names the problem") {
  exsim_process x(plain({"--rate", "10"}));
  const auto r = http_request(x.control_port(), "POST", "/fault", R"({"type":"stall","conn":999})");
  CHECK(r.status == 404);
  const auto u = http_request(x.control_port(), "POST", "/fault", R"({"type":"explode","venue":"okx"})");
  CHECK(u.json()["ok"] == false);
  const auto j = http_request(x.control_port(), "POST", "/fault", "{oops");
  CHECK(j.status == 400);
}

TEST_CASE("exsim a control request with a field of the wrong type is refused and exsim keeps serving") {
  two_lines t;
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"type":"oversized","conn":1,"bytes":"big"})", "bytes"},
           {R"({"type":"oversized","conn":1,"bytes":1000000000000})", "bytes"},
           {R"({"type":"delay","conn":1,"ms":"300"})", "ms"},
           {R"({"type":"duplicate","conn":1,"count":0})", "count"},
           {R"({"type":"drop","conn":1,"abrupt":"no"})", "abrupt"},
           {R"({"type":7})", "type"},
           {R"({"type":"explode","venue":"okx"})", "explode"}}) {
    INFO(body);
    const auto r = http_request(t.x.control_port(), "POST", "/fault", body);
    CHECK(r.status == 400);
    CHECK(r.json()["ok"] == false);
    CHECK(r.json()["error"].get<std::string>().find(field) != std::string::npos);
  }
  const auto m = http_request(t.x.control_port(), "POST", "/market", R"({"paused":"yes"})");
  CHECK(m.status == 400);
  CHECK(m.json()["error"].get<std::string>().find("paused") != std::string::npos);
  // A POST with no Content-Length at all (curl -X POST without -d) is answered, not left hanging.
  const auto empty = http_request(t.x.control_port(), "POST", "/fault", {}, false);
  CHECK(empty.status == 400);
  // Nothing was applied, and both lines still stream.
  const auto a0 = t.a.received, b0 = t.b.received;
  REQUIRE(t.loop.pump_until([&] { return t.a.received > a0 + 10 && t.b.received > b0 + 10; }, 5s));
  CHECK(http_request(t.x.control_port(), "GET", "/status").status == 200);
  CHECK(get_connections(t.x).size() == 2);
}

TEST_CASE("exsim fault stall with ms silences the line for that long, then it streams again by itself") {
  two_lines t;
  REQUIRE(wait_messages(t.loop, t.a, 1));
  const auto start = std::chrono::steady_clock::now();
  CHECK(post_fault(t.x, {{"type", "stall"}, {"conn", t.a_id}, {"ms", 400}})["ok"] == true);
  t.loop.pump_for(100ms);  // frames already in flight may still land
  const auto a0 = t.a.received;
  REQUIRE(t.loop.pump_until([&] { return t.a.received > a0; }, 5s));
  const double silent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(silent >= 0.35);
  CHECK(silent < 0.8);
  CHECK_FALSE(t.a.closed);
  // What was generated during the stall was dropped for that line (a gap, as after a real stall).
  for (const auto& c : get_connections(t.x))
    CHECK((c["id"] == t.a_id) == (c["frames_dropped"].get<int>() > 0));
}

TEST_CASE("exsim fault drop with abrupt false closes with the given close code and reason") {
  two_lines t;
  CHECK(post_fault(t.x, {{"type", "drop"}, {"conn", t.a_id}, {"abrupt", false}, {"code", 4001}, {"reason", "cut"}})["ok"] ==
        true);
  REQUIRE(t.loop.pump_until([&] { return t.a.closed; }, 5s));
  CHECK(t.a.close_code == 4001);
  CHECK(t.a.close_reason == "cut");
  CHECK_FALSE(t.b.closed);
}

TEST_CASE("exsim POST /market sets the market rate and pauses it") {
  exsim_process x(plain({"--rate", "0"}));
  auto actions = [&] { return http_request(x.control_port(), "GET", "/status").json()["actions"].get<std::int64_t>(); };
  // Waits (polling /status, with a deadline) until `n` more actions happened; returns the seconds it took.
  auto time_for = [&](std::int64_t n) {
    const auto start = std::chrono::steady_clock::now();
    const auto target = actions() + n;
    while (actions() < target) {
      REQUIRE(std::chrono::steady_clock::now() - start < 10s);
      std::this_thread::sleep_for(5ms);
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto set = [&](const std::string& body) {
    const auto r = http_request(x.control_port(), "POST", "/market", body);
    REQUIRE(r.status == 200);
    return r.json();
  };
  CHECK(set(R"({"rate":2})")["rate"] == 2.0);
  const double slow = time_for(3);  // 2 actions/s: 3 more take 1 to 1.5 s
  CHECK(slow >= 0.9);
  CHECK(slow < 2.0);
  set(R"({"rate":10000})");
  const double fast = time_for(5000);  // about 0.5 s
  CHECK(fast >= 0.4);
  CHECK(fast < 1.2);
  CHECK(set(R"({"paused":true})")["paused"] == true);
  const auto frozen = actions();
  const auto deadline = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < deadline) {
    REQUIRE(actions() == frozen);
    std::this_thread::sleep_for(20ms);
  }
  set(R"({"paused":false})");
  CHECK(time_for(1000) < 1.0);
}
