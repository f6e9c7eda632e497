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

TEST_CASE("exsim defaults are the venues' documented behaviour of 2026-12, and EXSIM_READY names every port") {
  const auto printed = run_capture(exsim_binary() + " --print-config");
  REQUIRE(printed.status == 0);
  const auto cfg = json::parse(printed.out);
  CHECK(cfg["rest_on_stream_port"] == false);
  CHECK(cfg["connect_limits"] == true);
  CHECK(cfg["binance"]["rest_port"] == 9445);
  CHECK(cfg["binance"]["weight_limit"] == 6000);
  CHECK(cfg["binance"]["weight_window_ms"] == 60000);
  CHECK(cfg["binance"]["connect_limit"] == 300);
  CHECK(cfg["binance"]["connect_window_ms"] == 300000);
  CHECK(cfg["okx"]["rest_port"] == 9446);
  CHECK(cfg["okx"]["snapshot_on_subscribe"] == false);
  CHECK(cfg["okx"]["checksum"] == false);
  CHECK(cfg["okx"]["public_l2_tbt"] == false);
  CHECK(cfg["okx"]["books_rest_limit"] == 40);
  CHECK(cfg["okx"]["connect_limit"] == 3);
  CHECK(cfg["okx"]["subscribe_limit"] == 480);
  CHECK(cfg["okx"]["subscribe_window_ms"] == 3600000);
  const auto legacy = json::parse(
      run_capture(exsim_binary() + " --rest-on-stream-port --okx-snapshot push --okx-checksum --okx-public-l2-tbt "
                                   "--no-connect-limits --quiet BTC-USDT:1.5 --print-config")
          .out);
  CHECK(legacy["rest_on_stream_port"] == true);
  CHECK(legacy["okx"]["snapshot_on_subscribe"] == true);
  CHECK(legacy["okx"]["checksum"] == true);
  CHECK(legacy["okx"]["public_l2_tbt"] == true);
  CHECK(legacy["connect_limits"] == false);
  CHECK(legacy["quiet"]["BTC-USDT"] == 1.5);
  exsim_process x(plain({"--rate", "10"}));
  const auto& out = x.output();
  const auto ready = json::parse(out.substr(out.find("EXSIM_READY ") + 12, out.find('\n', out.find("EXSIM_READY ")) - out.find("EXSIM_READY ") - 12));
  CHECK(ready["binance_rest_port"] == x.binance_rest_port());
  CHECK(ready["okx_rest_port"] == x.okx_rest_port());
  CHECK(x.binance_rest_port() != x.okx_rest_port());
  // Bad --quiet values and unknown quiet symbols exit 2 naming the problem.
  for (const auto& [arg, text] : std::vector<std::pair<std::string, std::string>>{
           {"--quiet BTC-USDT", "--quiet BTC-USDT: expected SYMBOL:SECONDS"},
           {"--quiet BTC-USDT:soon", "SECONDS is not a number"},
           {"--quiet DOGE-USDT:5", "quiet.DOGE-USDT: not a configured symbol"}}) {
    const auto r = run_capture(exsim_binary() + " --plain --port 0 --control-port -1 " + arg + " 2>&1");
    CHECK(r.status == 2);
    CHECK(r.out.find(text) != std::string::npos);
  }
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
    "quiet": {"SOL-USDT": 45}, "rest_on_stream_port": true,
    "binance": {"symbols": ["SOLUSDT", {"symbol": "BTCUSDT", "price_scale": 1}], "max_age_ms": 60000, "rest_port": 0,
                "weight_limit": 1200},
    "okx": {"symbols": ["SOL-USDT"], "idle_timeout_ms": 5000, "checksum": true, "snapshot_on_subscribe": true,
            "public_l2_tbt": true, "rest_port": -1, "books_rest_limit": 20, "subscribe_limit": 10}})");
  const auto printed = run_capture(exsim_binary() + " --config " + path + " --rate 7 --print-config");
  REQUIRE(printed.status == 0);
  const auto cfg = json::parse(printed.out);
  CHECK(cfg["rate"] == 7.0);  // the flag wins
  CHECK(cfg["seed"] == 5);
  CHECK(cfg["tls"] == false);
  CHECK(cfg["binance"]["max_age_ms"] == 60000);
  CHECK(cfg["binance"]["symbols"][1]["price_scale"] == 1);
  CHECK(cfg["okx"]["idle_timeout_ms"] == 5000);
  CHECK(cfg["okx"]["checksum"] == true);
  CHECK(cfg["okx"]["snapshot_on_subscribe"] == true);
  CHECK(cfg["okx"]["public_l2_tbt"] == true);
  CHECK(cfg["okx"]["rest_port"] == -1);
  CHECK(cfg["okx"]["books_rest_limit"] == 20);
  CHECK(cfg["okx"]["subscribe_limit"] == 10);
  CHECK(cfg["binance"]["rest_port"] == 0);
  CHECK(cfg["binance"]["weight_limit"] == 1200);
  CHECK(cfg["quiet"]["SOL-USDT"] == 45.0);
  CHECK(cfg["rest_on_stream_port"] == true);
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
