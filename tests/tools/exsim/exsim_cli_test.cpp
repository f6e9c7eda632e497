// exsim as a command-line program: --help, what it prints at start-up, --config files with
// flags overriding them, one-line errors for bad config, and a market that depends only on
// the seed.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <tuple>

#include "tests/support/run_capture.hpp"
#include "tests/tools/exsim/exsim_test_util.hpp"

using namespace mdbus::test;

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

TEST_CASE("exsim the same seed gives the same trades at any rate, another seed a different market") {
  exsim_process a(plain({"--seed", "7", "--rate", "3000"}));
  exsim_process b(plain({"--seed", "7", "--rate", "1500"}));
  exsim_process other(plain({"--seed", "8", "--rate", "3000"}));
  ws_loop loop;
  auto& ca = loop.connect(a.venue_port(), "/ws/btcusdt@trade");
  auto& cb = loop.connect(b.venue_port(), "/ws/btcusdt@trade");
  auto& co = loop.connect(other.venue_port(), "/ws/btcusdt@trade");
  // trade id → (price, qty, maker side): everything but the wall-clock times.
  using trade = std::tuple<std::string, std::string, bool>;
  std::map<std::int64_t, trade> ta, tb, to;
  auto drain = [](ws_conn& c, std::map<std::int64_t, trade>& m) {
    while (!c.messages.empty()) {
      const auto d = json::parse(c.pop());
      m[d["t"].get<std::int64_t>()] = {d["p"].get<std::string>(), d["q"].get<std::string>(), d["m"].get<bool>()};
    }
  };
  std::size_t common = 0;
  REQUIRE(loop.pump_until([&] {
    drain(ca, ta);
    drain(cb, tb);
    drain(co, to);
    common = 0;
    for (const auto& [t, v] : tb) common += ta.count(t);
    return common >= 100 && to.size() >= 100;
  }, 15s));
  for (const auto& [t, v] : tb)
    if (ta.count(t) != 0) REQUIRE(ta[t] == v);
  // Another seed: other trade ids and another price path.
  std::size_t same = 0;
  for (const auto& [t, v] : to) same += ta.count(t) != 0 && ta[t] == v ? 1 : 0;
  CHECK(same == 0);
}

namespace {
/// Writes `text` to a new temporary file and returns its path.
std::string temp_file(const std::string& text) {
  char path[] = "/tmp/exsim_config_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}
}  // namespace

TEST_CASE("exsim --config loads the file, flags override it, and it serves the configured symbols") {
  const auto path = temp_file(R"({"rate": 2000, "seed": 5, "tls": false,
    "binance": {"symbols": ["SOLUSDT", {"symbol": "BTCUSDT", "price_scale": 1}], "max_age_ms": 60000},
    "okx": {"symbols": ["SOL-USDT"], "idle_timeout_ms": 5000, "checksum": false}})");
  const auto printed = run_capture(exsim_binary() + " --config " + path + " --rate 7 --print-config");
  REQUIRE(printed.status == 0);
  const auto cfg = json::parse(printed.out);
  CHECK(cfg["rate"] == 7.0);  // the flag wins
  CHECK(cfg["seed"] == 5);
  CHECK(cfg["tls"] == false);
  CHECK(cfg["binance"]["max_age_ms"] == 60000);
  CHECK(cfg["binance"]["symbols"][1]["price_scale"] == 1);
  CHECK(cfg["okx"]["idle_timeout_ms"] == 5000);
  CHECK(cfg["okx"]["checksum"] == false);
  exsim_process x({"--config", path});
  CHECK(x.output().find("binance SOLUSDT BTCUSDT: ws://") != std::string::npos);
  CHECK(x.output().find("okx SOL-USDT: ws://") != std::string::npos);
  ws_loop loop;
  auto& c = loop.connect(x.venue_port(), "/ws/solusdt@trade");
  REQUIRE(wait_messages(loop, c, 1));
  CHECK(json::parse(c.pop())["s"] == "SOLUSDT");
  std::remove(path.c_str());
}

TEST_CASE("exsim --config with a bad field exits 2 with one line that names the file and the field") {
  for (const auto& [text, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"rate": 10, "colour": "red"})", "colour: unknown field"},
           {R"({"binance": {"ping_interval": 5}})", "binance.ping_interval: unknown field"},
           {R"({"okx": {"idle_timeout_ms": "30s"}})", "okx.idle_timeout_ms: expected an integer"},
           {R"({"port": 1.5})", "port: expected an integer"},
           {R"({"queue_limit_bytes": -1})", "queue_limit_bytes: expected a non-negative integer"},
           {R"({"tls": "no"})", "tls: expected true or false"},
           {R"({"okx": {"symbols": [{"symbol": "BTC-USDT", "scale": 2}]}})", "okx.symbols[0].scale: unknown field"},
           {R"({"binance": []})", "binance: expected an object"},
           {R"({"rate": 10,})", "parse error"}}) {
    INFO(text);
    const auto path = temp_file(text);
    const auto r = run_capture(exsim_binary() + " --plain --port 0 --control-port -1 --config " + path + " 2>&1");
    CHECK(r.status == 2);
    CHECK(r.out.find(path + ": ") != std::string::npos);
    CHECK(r.out.find(field) != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    std::remove(path.c_str());
  }
  // A value out of range is caught after loading, also naming the field.
  const auto path = temp_file(R"({"binance": {"pong_timeout_ms": 0}})");
  const auto r = run_capture(exsim_binary() + " --plain --port 0 --control-port -1 --config " + path + " 2>&1");
  CHECK(r.status == 2);
  CHECK(r.out == "exsim: binance.pong_timeout_ms: must be > 0\n");
  std::remove(path.c_str());
}
