// Connection groups (issue 15): a venue's symbols split into groups, each its own slot pair of
// mdfeed processes (feed.binance.g1.A, ...), under one supervisor and one merger, against exsim
// over TLS. Every group's connections rotate on the venue-wide schedule, a group's feeder is
// SIGKILLed and another group's connection dropped — and every stream of every group is checked
// against exsim's truth: nothing lost, nothing doubled, no gap record.
#include <doctest/doctest.h>

#include "bus/config/config.hpp"
#include "tests/bus/supervisor/supervisor_test_support.hpp"

#include <map>

using namespace mdbus;
using namespace mdbus::test;

namespace {

const std::vector<std::string> kBinance = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "BNBUSDT", "LTCUSDT"};
const std::vector<std::string> kOkx = {"BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "DOGE-USDT"};

json find_slot(const json& status, const std::string& venue_name, std::uint32_t group, const std::string& slot) {
  for (const auto& s : status["slots"])
    if (s["venue"] == venue_name && s["group"] == group && s["slot"] == slot) return s;
  FAIL("no slot " << venue_name << "/g" << group << "/" << slot);
  return {};
}

}  // namespace

TEST_CASE("mdsupervisor: connection groups: each group its own slot pair, rotated on one schedule, a group's feeder killed and another's connection dropped, nothing lost against the truth") {
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  std::vector<std::string> args = {"--rate", "600", "--seed", "15", "--truth-log", truth_path, "--binance-symbols"};
  args.insert(args.end(), kBinance.begin(), kBinance.end());
  args.push_back("--okx-symbols");
  args.insert(args.end(), kOkx.begin(), kOkx.end());
  exsim_process x(tls(args));
  const std::string sock = dir.file("ctl.sock");
  bus_setup b;
  // Binance: a 4 s lifetime over 3 groups x 2 slots: a planned cut every ~0.7 s across the venue.
  b.binance_policy = {{"max_age_ms", 6000}, {"rotate_margin_ms", 2000}};
  const std::string path = write_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), sock, b);
  json cfg = json::parse(read_file(path));
  cfg["venues"]["binance"]["symbols"] = kBinance;
  cfg["venues"]["binance"]["groups"] = 3;
  cfg["venues"]["okx"]["symbols"] = kOkx;
  cfg["venues"]["okx"]["groups"] = 2;
  std::ofstream(path) << cfg.dump(2);
  // The groups as the config assigns them (a hash of each name: stable as symbols come and go).
  const config::bus_config parsed = config::load_config(path);
  std::map<std::pair<venue, std::uint32_t>, std::vector<std::string>> groups;
  for (const auto& vc : parsed.venues)
    for (std::uint32_t g = 0; g < vc.groups; ++g) groups[{vc.id, g}] = config::group_view(vc, g).symbols;
  REQUIRE(groups.size() == 5);

  supervisor_process sup(path, dir.file("supervisor.log"));
  output_log out(segment_name(bus.name(), "out"));
  const std::set<stream_ref> wanted = test_bus_streams(kBinance, kOkx);
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, wanted, 5); }, 40s),
                  "every stream of every group reaches the output; supervisor log: " << sup.log());

  // One slot pair per group: 10 feeders, each with its own segments and only its group's
  // symbols, all live (OKX's pace lets 4 connections open in about 2 s).
  json st;
  REQUIRE_MESSAGE(eventually([&] {
                    out.poll();
                    st = ctl(sock, {{"cmd", "status"}});
                    return std::all_of(st["slots"].begin(), st["slots"].end(), [](const json& s) { return s["state"] == "live"; });
                  }, 30s),
                  "every slot live; status: " << st.dump());
  REQUIRE(st["slots"].size() == 10);
  for (const auto& [key, symbols] : groups) {
    const std::string vn(to_string(key.first));
    for (const char* s : {"A", "B"}) {
      CHECK(find_slot(st, vn, key.second, s)["state"] == "live");
      const feeder_status_reader r = open_status(bus.name(), key.first, config::slot_from_string(s), key.second);
      CHECK(r.fields().pid.load() == find_slot(st, vn, key.second, s)["pid"].get<std::int64_t>());
    }
    CAPTURE(vn);
    CAPTURE(key.second);
    CHECK(!symbols.empty());
  }
  CHECK(inspect_segment(feeder_ring_name(bus.name(), venue::binance, slot_id::a, 1)).status == attach_status::ok);

  // Faults in two groups: group 1's Binance A feeder killed; a connection of OKX group 1 dropped.
  const int victim = find_slot(st, "binance", 1, "A")["pid"];
  REQUIRE(::kill(victim, SIGKILL) == 0);
  const auto okx_conns = exsim_conn_ids(x, "/ws/v5/public");
  REQUIRE(okx_conns.size() == 4);
  REQUIRE(exsim_fault(x, {{"type", "drop"}, {"conn", okx_conns[1]}})["ok"] == true);
  // Every Binance slot of every group rotates on the venue's schedule, and the killed one is back.
  REQUIRE_MESSAGE(eventually([&] {
                    out.poll();
                    st = ctl(sock, {{"cmd", "status"}});
                    for (std::uint32_t g = 0; g < 3; ++g)
                      for (const char* s : {"A", "B"})
                        if (find_slot(st, "binance", g, s)["proactive_rotations"].get<std::uint64_t>() < 2) return false;
                    return find_slot(st, "binance", 1, "A")["state"] == "live" &&
                           find_slot(st, "binance", 1, "A")["pid"].get<int>() != victim;
                  }, 60s),
                  "two rotations per Binance slot; log: " << sup.log());
  // The planned cuts of the venue's six slots fall in six distinct places of the 4 s lifetime.
  std::vector<std::int64_t> next;
  for (std::uint32_t g = 0; g < 3; ++g)
    for (const char* s : {"A", "B"})
      if (find_slot(st, "binance", g, s)["next_rotation_ms"].is_number())
        next.push_back(find_slot(st, "binance", g, s)["next_rotation_ms"].get<std::int64_t>());
  std::sort(next.begin(), next.end());
  for (std::size_t i = 1; i < next.size(); ++i) CHECK(next[i] - next[i - 1] >= 300);  // ~667 ms apart by plan

  const truth_totals totals = freeze_and_check_truth(x, out, truth_path, wanted);
  CHECK(out.slot_statuses["binance down process_exit"] == 1);
  // The markers name their group: the killed feeder's down marker is group 1's.
  std::size_t g1_down = 0;
  for (const auto& m : out.markers)
    if (m.v == venue::binance && m.slot == slot_id::a && m.state == slot_state::down && m.reason == slot_reason::process_exit)
      g1_down += m.group == 1 ? 1 : 0;
  CHECK(g1_down == 1);
  MESSAGE("groups: 3 Binance + 2 OKX groups, ", wanted.size(), " streams, ", totals.expected, " events expected, ",
          totals.delivered, " delivered, ", out.gaps.size(), " gap records");
}
