// mdfeed's command line: --help, and set-up errors that name what is wrong with one line and
// a distinct exit code (2: usage or config, 1: run-time set-up such as a slot already taken).
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"
#include "tests/support/read_file.hpp"
#include "tests/support/run_capture.hpp"

using namespace mdbus;
using namespace mdbus::test;

namespace {

run_result mdfeed(const std::string& args) { return run_capture(mdfeed_binary() + " " + args + " 2>&1"); }

/// A config for a venue on a port nobody listens on (the tests here never get that far).
std::string config_file(const temp_dir& dir, const std::string& bus, json policy = json::object()) {
  feed_setup s;
  s.bus = bus;
  s.venue = "okx";
  s.port = 9;
  s.symbols = {"BTC-USDT"};
  s.channels = {"trades"};
  s.policy = std::move(policy);
  return write_config(dir.file("cfg.json"), s);
}

}  // namespace

TEST_CASE("mdfeed --help lists every option and exits 0") {
  const auto r = mdfeed("--help");
  CHECK(r.status == 0);
  for (const char* opt : {"--config", "--venue", "--slot", "--group", "--start-down", "--log-interval-ms"}) {
    INFO(opt);
    CHECK(r.out.find(opt) != std::string::npos);
  }
}

TEST_CASE("mdfeed refuses a missing option, an unknown venue and an unknown slot") {
  temp_dir dir;
  unique_bus bus;
  const auto cfg = config_file(dir, bus.name());
  CHECK(mdfeed("--venue okx --slot A").status != 0);
  auto r = mdfeed("--config " + cfg + " --venue kraken --slot A");
  CHECK(r.status == 2);
  CHECK(r.out == "mdfeed: --venue 'kraken': not a venue (binance, okx)\n");
  r = mdfeed("--config " + cfg + " --venue okx --slot C");
  CHECK(r.status == 2);
  CHECK(r.out == "mdfeed: --slot 'C': must be A or B\n");
  // The venue has one connection group (0) unless its section says "groups".
  r = mdfeed("--config " + cfg + " --venue okx --slot A --group 1");
  CHECK(r.status == 2);
  CHECK(r.out == "mdfeed: " + cfg + ": venues.okx: 1 connection group(s), no group 1\n");
}

TEST_CASE("mdfeed config errors are one line naming the file and the field, exit 2") {
  temp_dir dir;
  unique_bus bus;
  auto cfg = config_file(dir, bus.name(), {{"keepalive_ms", "soon"}});
  auto r = mdfeed("--config " + cfg + " --venue okx --slot A");
  CHECK(r.status == 2);
  CHECK(r.out == "mdfeed: " + cfg + ": venues.okx.policy.keepalive_ms: must be an integer\n");

  cfg = config_file(dir, bus.name());
  r = mdfeed("--config " + cfg + " --venue binance --slot A");
  CHECK(r.status == 2);
  CHECK(r.out == "mdfeed: " + cfg + ": venues.binance: not configured\n");

  json j = json::parse(std::ifstream(cfg));
  j["venues"]["okx"]["slots"] = {"A"};
  j["venues"]["okx"]["endpoint"]["ca_file"] = dir.file("missing-ca.pem");
  j["venues"]["okx"]["rest_endpoint"]["ca_file"] = dir.file("missing-ca.pem");
  std::ofstream(cfg) << j.dump();
  r = mdfeed("--config " + cfg + " --venue okx --slot B");
  CHECK(r.status == 2);
  CHECK(r.out == "mdfeed: " + cfg + ": venues.okx.slots: has no slot B\n");
  r = mdfeed("--config " + cfg + " --venue okx --slot A");
  CHECK(r.status == 2);
  CHECK(r.out == "mdfeed: " + cfg + ": venues.okx.endpoint.ca_file: cannot read " + dir.file("missing-ca.pem") + "\n");
  CHECK(list_segments(bus.name()).empty());  // nothing created for a refused start
}

TEST_CASE("mdfeed refuses a slot another live feeder holds, exit 1") {
  temp_dir dir;
  unique_bus bus;
  const auto cfg = config_file(dir, bus.name());
  feeder_process first(cfg, "okx", "A", dir.file("first.log"));
  auto st = open_status(bus.name(), venue::okx, slot_id::a);
  const auto r = mdfeed("--config " + cfg + " --venue okx --slot A");
  CHECK(r.status == 1);
  CHECK(r.out.find("already has a live writer (pid " + std::to_string(first.pid()) + ")") != std::string::npos);
  CHECK(first.running());
  CHECK(first.stop() == 0);
}

TEST_CASE("mdfeed refuses a configured symbol the venue does not list, or lists as not trading, one line each, exit 2") {
  // Binance stays silent on a stream of a symbol it does not list: without the check at start
  // a typo costs every message of that symbol without a word (ARCHITECTURE.md "Venues as data").
  exsim_process x(tls({"--rate", "100", "--binance-halt", "BNBUSDT", "--okx-suspend", "BNB-USDT"}));
  unique_bus bus;
  temp_dir dir;
  for (const auto& [venue, sym, text] :
       {std::tuple<std::string, std::string, std::string>{"binance", "BTCUSDX", "\"BTCUSDX\" is not listed by Binance"},
        {"binance", "BNBUSDT", "\"BNBUSDT\" is not trading on Binance (status BREAK)"},
        {"okx", "BTC-USDX", "\"BTC-USDX\" is not listed by OKX"},
        {"okx", "BNB-USDT", "\"BNB-USDT\" is not trading on OKX (state suspend)"}}) {
    feed_setup s;
    s.bus = bus.name();
    s.venue = venue;
    s.port = x.venue_port();
    s.binance_rest_port = x.binance_rest_port();
    s.okx_rest_port = x.okx_rest_port();
    s.symbols = {venue == "okx" ? "BTC-USDT" : "BTCUSDT", sym};
    s.channels = {venue == "okx" ? "trades" : "trade"};
    const std::string cfg = write_config(dir.file(venue + sym + ".json"), s);
    const auto r = mdfeed("--config " + cfg + " --venue " + venue + " --slot A");
    INFO(r.out);
    CHECK(r.status == 2);
    CHECK(r.out.find("refusing the config: symbol " + text) != std::string::npos);
    // The status block keeps the reason for mdctl status.
    feeder_status_reader st = feeder_status_reader::open(feeder_status_name(bus.name(), venue == "okx" ? venue::okx : venue::binance, slot_id::a));
    CHECK(st.last_error().find(text) != std::string::npos);
    bus.remove_all();
  }
  // A config whose symbols are all listed and trading passes the check.
  feed_setup ok;
  ok.bus = bus.name();
  ok.venue = "binance";
  ok.port = x.venue_port();
  ok.binance_rest_port = x.binance_rest_port();
  ok.symbols = {"BTCUSDT", "ETHUSDT"};
  ok.channels = {"trade"};
  feeder_process f(write_config(dir.file("ok.json"), ok), "binance", "A", dir.file("ok.log"));
  REQUIRE(eventually([&] { return read_file(dir.file("ok.log")).find("instrument check: all 2 symbols are listed and trading") != std::string::npos; }, 10s));
}
