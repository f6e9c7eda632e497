// `mdctl reload` (issue 15): a venue's symbols edited in the config file and applied to a running
// bus against exsim over TLS. Refused whole when the file changes anything else or does not
// load; applied, only the connection groups whose symbols changed restart their feeders, one
// slot at a time with the partner carrying the group, while the other group keeps its
// connections and the merger keeps running. Every stream kept or added is checked against
// exsim's truth: nothing lost, nothing doubled, no gap record.
#include <doctest/doctest.h>

#include "bus/config/config.hpp"
#include "tests/bus/supervisor/supervisor_test_support.hpp"

#include <map>

using namespace mdbus;
using namespace mdbus::test;

namespace {

// exsim serves all of them; the bus starts with the first six Binance and two OKX ones.
const std::vector<std::string> kBinance = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "BNBUSDT", "LTCUSDT"};
const std::vector<std::string> kOkx = {"BTC-USDT", "ETH-USDT", "SOL-USDT"};

}  // namespace

TEST_CASE("mdsupervisor: mdctl reload applies edited symbol lists group by group, refuses anything else, and loses nothing against the truth") {
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  std::vector<std::string> args = {"--rate", "600", "--seed", "21", "--truth-log", truth_path, "--binance-symbols"};
  args.insert(args.end(), kBinance.begin(), kBinance.end());
  args.push_back("--okx-symbols");
  args.insert(args.end(), kOkx.begin(), kOkx.end());
  exsim_process x(tls(args));
  const std::string sock = dir.file("ctl.sock");
  const std::string path = write_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), sock, bus_setup{});
  json cfg = json::parse(read_file(path));
  const std::vector<std::string> binance_before(kBinance.begin(), kBinance.begin() + 6);
  const std::vector<std::string> okx_before = {"BTC-USDT", "ETH-USDT"};
  cfg["venues"]["binance"]["symbols"] = binance_before;
  cfg["venues"]["binance"]["groups"] = 2;
  cfg["venues"]["okx"]["symbols"] = okx_before;
  std::ofstream(path) << cfg.dump(2);
  const config::bus_config parsed = config::load_config(path);
  const config::venue_config& bvc = *parsed.find(venue::binance);
  // The edit: Binance gains a symbol and loses another of the same group, so exactly one of its
  // two groups changes; OKX (one group) gains one.
  std::string added, dropped;
  for (std::size_t i = 6; i < kBinance.size() && added.empty(); ++i) {
    const std::uint32_t g = bvc.group_of(kBinance[i]);
    const auto gs = config::group_view(bvc, g).symbols;
    if (gs.size() >= 2) {
      added = kBinance[i];
      dropped = gs.back();
    }
  }
  REQUIRE(!added.empty());
  const std::uint32_t changed_group = bvc.group_of(added);
  const std::uint32_t kept_group = 1 - changed_group;
  REQUIRE(!config::group_view(bvc, kept_group).symbols.empty());

  supervisor_process sup(path, dir.file("supervisor.log"));
  output_log out(segment_name(bus.name(), "out"));
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, test_bus_streams(binance_before, okx_before), 5); }, 40s),
                  "every stream reaches the output; supervisor log: " << sup.log());
  json st;
  auto all_live = [&] {
    out.poll();
    st = ctl(sock, {{"cmd", "status"}});
    return std::all_of(st["slots"].begin(), st["slots"].end(),
                       [](const json& s) { return s["state"] == "live" && s["reload_pending"] == false && s["rotation_due"].is_null(); });
  };
  REQUIRE_MESSAGE(eventually(all_live, 30s), "every slot live; status: " << st.dump());
  CHECK(st["supervisor"]["config_generation"] == 1);
  // The children read the supervisor's running copy, not the file.
  const std::string running = st["supervisor"]["config_running_copy"];
  CHECK(running == dir.file(bus.name() + ".running.json"));
  const int merger_pid = st["merger"]["pid"];
  std::map<std::string, json> before;
  for (const auto& s : st["slots"]) before[s["venue"].get<std::string>() + "/" + std::to_string(s["group"].get<int>()) + "/" + s["slot"].get<std::string>()] = s;

  // Refused whole, nothing restarted: a change beside the symbols, and a file that does not load.
  json wrong = cfg;
  wrong["venues"]["binance"]["symbols"].push_back(added);
  wrong["venues"]["okx"]["groups"] = 2;
  std::ofstream(path) << wrong.dump(2);
  json r = ctl(sock, {{"cmd", "reload"}});
  CHECK(r["ok"] == false);
  CHECK(r["error"].get<std::string>().find("/venues/okx/groups: added (a reload may change the venues' \"symbols\" only") != std::string::npos);
  json bad = cfg;
  bad["venues"]["okx"]["symbols"].push_back("not a symbol");
  std::ofstream(path) << bad.dump(2);
  r = ctl(sock, {{"cmd", "reload"}});
  CHECK(r["ok"] == false);
  CHECK(r["error"].get<std::string>().find("not a symbol") != std::string::npos);
  st = ctl(sock, {{"cmd", "status"}});
  CHECK(st["supervisor"]["config_generation"] == 1);

  // The edit, applied with the mdctl program.
  json next = cfg;
  std::vector<std::string> binance_after;
  for (const auto& s : binance_before)
    if (s != dropped) binance_after.push_back(s);
  binance_after.push_back(added);
  const std::vector<std::string> okx_after = {"BTC-USDT", "ETH-USDT", "SOL-USDT"};
  next["venues"]["binance"]["symbols"] = binance_after;
  next["venues"]["okx"]["symbols"] = okx_after;
  std::ofstream(path) << next.dump(2);
  const run_result cli = run_capture(std::string(MDBUS_MDCTL) + " --config " + path + " reload");
  CHECK(cli.status == 0);
  CHECK(cli.out == "reloaded " + path + " (generation 2): +2 symbols, -1; groups binance/g" + std::to_string(changed_group) +
                       ", okx/g0 restart their 4 feeder(s) one slot at a time (mdctl status)\n");
  CHECK(json::parse(read_file(running))["venues"]["binance"]["symbols"] == binance_after);

  // The new symbols' streams arrive; the changed groups' slots each get a new process, never
  // both of a group down at once; the kept group and the merger are untouched.
  const std::set<stream_ref> wanted = test_bus_streams(binance_after, okx_after);
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, wanted, 5); }, 60s),
                  "the added symbols' streams reach the output; supervisor log: " << sup.log());
  REQUIRE_MESSAGE(eventually(all_live, 60s), "every slot live with the new config; status: " << st.dump() << "\nlog: " << sup.log());
  CHECK(st["supervisor"]["config_generation"] == 2);
  CHECK(st["merger"]["pid"] == merger_pid);
  for (const auto& s : st["slots"]) {
    const std::string key = s["venue"].get<std::string>() + "/" + std::to_string(s["group"].get<int>()) + "/" + s["slot"].get<std::string>();
    CAPTURE(key);
    const bool changed = s["venue"] == "okx" || s["group"] == changed_group;
    if (changed) {
      CHECK(s["pid"] != before[key]["pid"]);
      CHECK(s["proactive_rotations"].get<int>() == before[key]["proactive_rotations"].get<int>() + 1);
    } else {
      CHECK(s["pid"] == before[key]["pid"]);
      CHECK(s["reconnects"] == before[key]["reconnects"]);
    }
  }
  // Each restarted slot got a new control block; the merger applied the reload in place.
  const std::string log = sup.log();
  CHECK(log.find("new control block for the reloaded config") != std::string::npos);
  CHECK(log.find("mdmerge: reloaded") != std::string::npos);

  const truth_totals totals = freeze_and_check_truth(x, out, truth_path, wanted);
  // Never both lines of a group down by our hand: once a group's two slots had both been up,
  // the output never shows both of them out of "up" at once (the gate waits until the merger
  // has seen the restarted slot's "up" before it cuts the partner).
  std::map<std::tuple<venue, std::uint32_t, slot_id>, slot_state> state;
  std::set<std::pair<venue, std::uint32_t>> both_were_up;
  std::string both_down;
  for (const auto& m : out.markers) {
    state[{m.v, m.group, m.slot}] = m.state;
    const slot_state a = state[{m.v, m.group, slot_id::a}], b = state[{m.v, m.group, slot_id::b}];
    if (a == slot_state::up && b == slot_state::up) both_were_up.insert({m.v, m.group});
    if (both_were_up.contains({m.v, m.group}) && a != slot_state::up && b != slot_state::up && both_down.empty())
      both_down = std::string(to_string(m.v)) + "/g" + std::to_string(m.group);
  }
  CHECK_MESSAGE(both_down.empty(), "both slots of " << both_down << " out of up at once");
  if (std::getenv("MDBUS_SHOW_LOG")) MESSAGE(sup.log());
  MESSAGE("reload: +", added, " -", dropped, " (binance/g", changed_group, "), +SOL-USDT (okx/g0): ", wanted.size(),
          " streams, ", totals.expected, " events expected, ", totals.delivered, " delivered, ", out.gaps.size(), " gap records");
}
