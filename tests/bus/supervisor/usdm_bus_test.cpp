// Binance USD-M perpetuals beside spot and OKX on one bus (issue 14, "spot and futures side by
// side"): real supervisor, feeders and merger against exsim over TLS, USD-M's connections cut at
// a compressed age limit and rotated make-before-break, its depth joined to /fapi/v1/depth
// snapshots by the spans rule and chained on pu; every stream checked against exsim's truth.
#include <doctest/doctest.h>

#include "tests/bus/supervisor/supervisor_test_support.hpp"

using namespace mdbus;
using namespace mdbus::test;

TEST_CASE("mdsupervisor: Binance USD-M depth beside spot and OKX, rotated at its age limit, nothing lost or doubled against the truth") {
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  exsim_process x(tls({"--rate", "600", "--seed", "14", "--truth-log", truth_path, "--usdm-symbols", "BTCUSDT", "ETHUSDT",
                       "--usdm-max-age-ms", "4000"}));
  REQUIRE(x.usdm_rest_port() > 0);
  const std::string sock = dir.file("ctl.sock");
  bus_setup b;
  b.usdm_rest_port = x.usdm_rest_port();
  b.usdm_policy = {{"max_age_ms", 4000}, {"rotate_margin_ms", 1500}};
  const std::string config = write_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), sock, b);
  supervisor_process sup(config, dir.file("supervisor.log"));

  output_log out(segment_name(bus.name(), "out"));
  std::set<stream_ref> wanted = test_bus_streams();
  for (const char* sym : {"BTCUSDT", "ETHUSDT"}) wanted.insert({venue::binance_usdm, channel::usdm_depth, sym});
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, wanted, 5); }, 30s),
                  "every stream reaches the output; supervisor log: " << sup.log());

  REQUIRE_MESSAGE(eventually([&] {
                    out.poll();
                    const json st = ctl(sock, {{"cmd", "status"}});
                    return slot_status(st, "binance_usdm", "A")["proactive_rotations"] >= 3 &&
                           slot_status(st, "binance_usdm", "B")["proactive_rotations"] >= 3;
                  }, 40s),
                  "three rotations per USD-M slot; log: " << sup.log());
  const json st = ctl(sock, {{"cmd", "status"}});
  for (const char* slot : {"A", "B"}) {
    const json s = slot_status(st, "binance_usdm", slot);
    INFO("binance_usdm/", slot, ": ", s.dump());
    CHECK_MESSAGE(s["forced_reconnects"] == 0, "supervisor log: " << sup.log());
    CHECK(s["restarts"] == 0);
  }
  CHECK(st["totals"]["gaps"] == 0);

  const truth_totals totals = freeze_and_check_truth(x, out, truth_path, wanted);
  CHECK(out.slot_statuses["binance_usdm down remote_close"] == 0);  // every cut was our rotation
  MESSAGE("USD-M beside spot and OKX: ", slot_status(st, "binance_usdm", "A")["proactive_rotations"], "+",
          slot_status(st, "binance_usdm", "B")["proactive_rotations"], " USD-M rotations, ", totals.expected, " events expected, ",
          totals.delivered, " delivered, ", out.gaps.size(), " gap records");
}
