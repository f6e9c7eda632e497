// Bad input never stops mdfeed: a frame cut mid-JSON, a frame larger than the configured
// limit, a burst of either — each message is counted under its reason and dropped with a
// rate-limited log line naming the reason, and the line keeps flowing.
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"

#include "feeders/venue_adapter.hpp"

using namespace mdbus;
using namespace mdbus::test;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

constexpr auto kNotJson = static_cast<std::size_t>(feed::parse_error::not_json);
constexpr auto kTooLarge = static_cast<std::size_t>(feed::parse_error::message_too_large);

}  // namespace

TEST_CASE("mdfeed drops malformed and oversized frames, counts them per reason, logs them rate-limited, keeps running") {
  unique_bus bus;
  temp_dir dir;
  exsim_process x(tls({"--rate", "2000"}));
  feed_setup s;
  s.bus = bus.name();
  s.venue = "binance";
  s.port = x.venue_port();
  s.binance_rest_port = x.binance_rest_port();
  s.okx_rest_port = x.okx_rest_port();
  s.symbols = {"BTCUSDT"};
  s.channels = {"trade", "depth@100ms"};
  s.policy = {{"max_message_bytes", 65536}};
  feeder_process f(write_config(dir.file("cfg.json"), s), "binance", "A", dir.file("feeder.log"));
  auto st = open_status(bus.name(), venue::binance, slot_id::a);
  REQUIRE(eventually([&] { return st.state() == feeder_state::live; }, 10s));
  const auto id = exsim_conn_ids(x, "/stream").at(0);

  constexpr int kBurst = 20;
  for (int i = 0; i < kBurst; ++i) CHECK(exsim_fault(x, {{"type", "malformed"}, {"conn", id}})["ok"] == true);
  CHECK(exsim_fault(x, {{"type", "oversized"}, {"conn", id}, {"bytes", 300000}})["ok"] == true);
  REQUIRE(eventually([&] {
    const auto v = st.snapshot();
    return v.parse_errors[kNotJson] >= kBurst && v.parse_errors[kTooLarge] >= 1;
  }, 10s));
  const auto after = st.snapshot();
  CHECK(after.parse_errors[kNotJson] == kBurst);
  CHECK(after.parse_errors[kTooLarge] == 1);
  CHECK(after.parse_errors_total == kBurst + 1);
  CHECK(after.reconnects == 0);
  // Still live, still normalising.
  REQUIRE(eventually([&] { return st.snapshot().records > after.records + 200; }, 10s));
  CHECK(f.running());
  CHECK(st.state() == feeder_state::live);
  CHECK(st.last_error().find("dropped a message") != std::string::npos);

  const std::string log = f.log();
  INFO(log);
  // One line per reason and second at most: the burst of 20 gives 1 or 2 not_json lines.
  const auto not_json_lines = count_of(log, "dropped a message: not_json");
  CHECK(not_json_lines >= 1);
  CHECK(not_json_lines <= 3);
  CHECK(count_of(log, "dropped a message: message_too_large (300000 bytes, limit 65536)") == 1);
  CHECK(f.stop() == 0);
  // Once more after the interval, the held-back lines are reported as suppressed.
  const std::string final_log = f.log();
  CHECK((not_json_lines == 1 || final_log.find("suppressed") != std::string::npos));
}
