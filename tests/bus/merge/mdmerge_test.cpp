// mdmerge as a process, against real feeders and exsim over TLS: two slots per venue, one
// connection cut at a time (staggered), the merger SIGKILLed and restarted mid-run — and the
// output ring compared with exsim's ground truth stream by stream: nothing lost, nothing
// doubled, no gap record. Binance diff depth is in it, so the merger's resync request (the
// stream starts without a snapshot) and the feeders' REST snapshot are too. Plus the
// daemon's command line and set-up errors.
#include <doctest/doctest.h>

#include "mdbus/broadcast_ring.hpp"
#include "bus/config/config.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "mdbus/records.hpp"
#include "bus/sched_slice.hpp"
#include "tests/support/read_file.hpp"
#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"
#include "tests/support/spawn.hpp"
#include "tests/support/truth_compare.hpp"

#include <algorithm>
#include <map>
#include <set>

using namespace mdbus;
using namespace mdbus::test;

namespace {

std::string mdmerge_binary() { return MDMERGE_BINARY; }


/// Both venues, two slots each, on one exsim.
std::string write_bus_config(const std::string& path, const std::string& bus, int port, int binance_rest_port, int okx_rest_port, int hole_fill_ms) {
  json ep = {{"host", "127.0.0.1"}, {"port", port}, {"tls", true}, {"server_name", "localhost"},
             {"ca_file", exsim_cert_dir() + "/ca.pem"}};
  json brest = ep, orest = ep;  // exsim's REST listeners: the stream port serves no REST
  brest["port"] = binance_rest_port;
  orest["port"] = okx_rest_port;
  json policy = {{"reconnect_min_ms", 50}, {"reconnect_max_ms", 500}, {"connect_timeout_ms", 5000}, {"drain_timeout_ms", 500}};
  json cfg = {
      {"bus", bus},
      {"rings", {{"feeder_bytes", 8 << 20}, {"output_bytes", 64 << 20}}},
      {"merge", {{"hole_fill_ms", hole_fill_ms}, {"idle", "backoff"}, {"idle_sleep_max_us", 200}}},
      {"venues",
       {{"binance",
         {{"endpoint", ep}, {"rest_endpoint", brest}, {"symbols", {"BTCUSDT", "ETHUSDT"}}, {"channels", {"trade", "aggTrade", "depth@100ms"}},
          {"slots", {"A", "B"}}, {"policy", policy}}},
        {"okx",
         {{"endpoint", ep}, {"rest_endpoint", orest}, {"symbols", {"BTC-USDT", "ETH-USDT"}}, {"channels", {"trades", "books", "bbo-tbt"}},
          {"slots", {"A", "B"}}, {"policy", policy}}}}}};
  std::ofstream(path) << cfg.dump(2);
  return path;
}

}  // namespace

TEST_CASE("mdmerge: staggered cuts and a SIGKILLed merger lose nothing and double nothing against exsim's truth") {
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  exsim_process x(tls({"--rate", "600", "--seed", "7", "--truth-log", truth_path}));
  const std::string config = write_bus_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), 200);

  const std::vector<std::pair<venue, slot_id>> slots = {
      {venue::binance, slot_id::a}, {venue::binance, slot_id::b}, {venue::okx, slot_id::a}, {venue::okx, slot_id::b}};
  std::vector<feeder_control_writer> controls;  // the test is the commander (the supervisor's role)
  // Two symbols per venue in write_bus_config: the resync table is sized by them.
  for (const auto& [v, s] : slots) controls.push_back(feeder_control_writer::create(feeder_control_name(bus.name(), v, s), v, s, 2));
  // And the owner of the counters segment (the supervisor's too): the merger only opens it.
  auto owned_counters = counters_segment::create(segment_name(bus.name(), "counters"), 4096);
  std::vector<std::unique_ptr<feeder_process>> feeders;
  for (const auto& [v, s] : slots) {
    const std::string vn(to_string(v)), sn(to_string(s));
    feeders.push_back(std::make_unique<feeder_process>(config, vn, sn, dir.file("feed-" + vn + sn + ".log")));
  }
  auto merger = std::make_unique<child>(std::vector<std::string>{mdmerge_binary(), "--config", config}, dir.file("merge1.log"));

  output_log out(segment_name(bus.name(), "out"));
  const std::set<stream_ref> wanted = test_bus_streams();
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, wanted, 5); }, 30s),
                  "every stream reaches the output");

  std::vector<feeder_status_reader> status;
  for (const auto& [v, s] : slots) status.push_back(open_status(bus.name(), v, s));
  auto live = [&](std::size_t i) { return status[i].state() == feeder_state::live; };
  // One connection cut at a time: the partner slot of the same venue is live when it happens,
  // and the cut slot is live again before the next cut.
  int cuts = 0;
  for (int round = 0; round < 8; ++round) {
    const bool okx = round % 2 == 1;
    const std::string prefix = okx ? "/ws/v5/public" : "/stream";
    const std::size_t first = okx ? 2 : 0;
    REQUIRE(eventually([&] {
      out.poll();
      return live(first) && live(first + 1) && exsim_conn_ids(x, prefix).size() == 2;
    }));
    const auto ids = exsim_conn_ids(x, prefix);
    const std::uint64_t reconnects = status[first].fields().reconnects + status[first + 1].fields().reconnects;
    REQUIRE(exsim_fault(x, {{"type", "drop"}, {"conn", ids[round % 2]}})["ok"] == true);
    ++cuts;
    REQUIRE(eventually([&] {
      out.poll();
      return status[first].fields().reconnects + status[first + 1].fields().reconnects > reconnects && live(first) &&
             live(first + 1);
    }));
    // Let the market run on between cuts (a few hundred records through the merger).
    const std::uint64_t before = out.records;
    REQUIRE(eventually([&] {
      out.poll();
      return out.records >= before + 600;
    }));
    if (round == 2) {
      // SIGKILL the merger while the feeders write on; restart it once they have written more.
      merger->signal(SIGKILL);
      REQUIRE(merger->wait(5000) == 128 + SIGKILL);
      std::uint64_t written = 0;
      for (auto& st : status) written += st.fields().records;
      REQUIRE(eventually([&] {
        std::uint64_t now = 0;
        for (auto& st : status) now += st.fields().records;
        return now >= written + 2000;
      }));
      merger = std::make_unique<child>(std::vector<std::string>{mdmerge_binary(), "--config", config}, dir.file("merge2.log"));
    }
  }
  // Freeze the market, and wait until the output holds exsim's last event of every stream.
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":true})").json()["ok"] == true);
  std::map<stream_ref, std::vector<std::uint64_t>> truth;
  REQUIRE_MESSAGE(output_caught_up(out, truth_path, wanted, truth, [](auto pred) { return eventually(pred, 30s); }),
                  "the output catches up with the truth's last events");

  const truth_totals totals = check_against_truth(truth, out, wanted);
  const std::size_t expected = totals.expected, delivered = totals.delivered;
  MESSAGE("mdmerge truth run: ", cuts, " cuts, 1 merger SIGKILL, ", expected, " events expected, ", delivered,
          " delivered, ", out.gaps.size(), " gap records");
  CHECK(out.gaps.empty());
  for (const auto& g : out.gaps) MESSAGE("gap: ", g);
  CHECK(out.laps == 0);
  CHECK(out.stamped_wrong == 0);
  CHECK(expected > 3000);

  // The restarted merger read the output back and said so; its counters are in the segment.
  merger->signal(SIGTERM);
  CHECK(merger->wait(5000) == 0);
  const std::string text = read_file(dir.file("merge2.log"));
  CHECK(text.find("records read back") != std::string::npos);
  const auto counters = counters_segment::open(segment_name(bus.name(), "counters"), access_mode::read_only);
  CHECK(counters.find("merge.duplicates").value_or(0) > 0);
  CHECK(counters.find("merge.gaps").value_or(-1) == 0);
  // Binance diff depth starts without a snapshot: the merger asked, the feeders fetched the REST
  // snapshot, and the deltas were joined to it (the truth comparison above covers them).
  CHECK(counters.find("merge.binance.depth.BTCUSDT.resync_requests").value_or(0) >= 1);
  CHECK(counters.find("merge.resync_unrouted").value_or(-1) == 0);
  CHECK(out.snapshots >= 4);  // >= one per Binance depth symbol (REST) and per OKX books symbol
  CHECK(counters.find("merge.okx.A.first_arrivals").value_or(0) + counters.find("merge.okx.B.first_arrivals").value_or(0) > 0);
  for (auto& f : feeders) CHECK(f->stop() == 0);
}

TEST_CASE("mdmerge: a bad config is one line and exit 2, a second merger on the bus is refused with exit 1, the scheduler slice is logged") {
  unique_bus bus;
  temp_dir dir;
  {
    const std::string bad = dir.file("bad.json");
    std::ofstream(bad) << R"({"bus":")" << bus.name() << R"(","merge":{"idle":"sometimes"},"venues":{"okx":{}}})";
    child c({mdmerge_binary(), "--config", bad}, dir.file("bad.log"));
    CHECK(c.wait(10000) == 2);
    const std::string text = read_file(dir.file("bad.log"));
    const std::string line = text.substr(0, text.find('\n'));
    CHECK(line.find("merge.idle") != std::string::npos);
    CHECK(line.find("\"sometimes\"") != std::string::npos);
  }
  const std::string config = write_bus_config(dir.file("bus.json"), bus.name(), 9, 10, 11, 3);
  child first({mdmerge_binary(), "--config", config}, dir.file("first.log"));
  REQUIRE(eventually([&] { return read_file(dir.file("first.log")).find("MDMERGE_READY") != std::string::npos; }));
  // scheduling.wake_slice_us (default 100): applied and logged, or one line saying why not.
  if (current_slice_ns(first.pid()) == 100'000) {
    CHECK(read_file(dir.file("first.log")).find("scheduler slice 100 us (scheduling.wake_slice_us)") != std::string::npos);
  } else {
    CHECK(read_file(dir.file("first.log")).find("scheduling.wake_slice_us 100 not applied: ") != std::string::npos);
  }
  child second({mdmerge_binary(), "--config", config}, dir.file("second.log"));
  CHECK(second.wait(10000) == 1);
  const std::string t = read_file(dir.file("second.log"));
  CHECK(t.find("mdbus." + bus.name() + ".out") != std::string::npos);
  first.signal(SIGTERM);
  CHECK(first.wait(5000) == 0);
}

// Issue 15 "no fixed capacity": a few hundred instruments per venue. The merger, started alone
// (no supervisor), makes each slot's control block with a resync table for all the venue's
// symbols and the counters segment with room for every stream's counters (it used to hold
// 4096: about 400 streams).
TEST_CASE("mdmerge: 300 instruments a venue: every stream's counters exist, and the supervisor's counters segment and control blocks sized for 300 symbols are opened, never made") {
  unique_bus bus;
  temp_dir dir;
  const std::string path = write_bus_config(dir.file("bus.json"), bus.name(), 9, 10, 11, 3);
  json cfg = json::parse(read_file(path));
  std::vector<std::string> binance, okx;
  for (int i = 0; i < 300; ++i) {
    binance.push_back("S" + std::to_string(i) + "USDT");
    okx.push_back("S" + std::to_string(i) + "-USDT");
  }
  cfg["venues"]["binance"]["symbols"] = binance;
  cfg["venues"]["okx"]["symbols"] = okx;
  std::ofstream(path) << cfg.dump();
  const auto t0 = std::chrono::steady_clock::now();
  child merger({mdmerge_binary(), "--config", path}, dir.file("merge.log"));
  REQUIRE(eventually([&] { return read_file(dir.file("merge.log")).find("MDMERGE_READY") != std::string::npos; }, 30s));
  const double ready_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // No supervisor yet: the counters segment is its, so the merger merges without counters,
  // says so once, and does not make it (one owner per segment).
  const std::string counters_name = segment_name(bus.name(), "counters");
  CHECK(read_file(dir.file("merge.log")).find("merging without them until the supervisor makes the segment") !=
        std::string::npos);
  CHECK_THROWS_AS((void)counters_segment::open(counters_name, access_mode::read_only), segment_error);
  // The supervisor's segment appears (made here as it would, sized from the config): the merger
  // opens it within a second and registers every stream's counters.
  auto owned_counters = counters_segment::create(counters_name, config::counters_capacity(config::load_config(path)));
  const auto t1 = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return owned_counters.find("merge.streams").value_or(0) >= 1800; }, 20s));
  const double counted_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const auto counters = counters_segment::open(counters_name, access_mode::read_only);
  std::size_t n = 0;
  counters.for_each([&](const counter_entry&) { ++n; });
  MESSAGE("300 symbols x 3 channels x 2 venues: ", n, " counters of ", counters.max_counters(), ", merger ready after ",
          ready_s, " s, its counters ", counted_s, " s after the segment appeared (looked for every second)");
  CHECK(n > 1800 * 10);
  CHECK(counters.find("merge.okx.books.S299-USDT.A.first_arrivals").has_value());
  CHECK(counters.find("merge.binance.depth.S299USDT.gaps").has_value());
  CHECK(counters.find("merge.streams").value_or(0) >= 1800);
  const std::string log = read_file(dir.file("merge.log"));
  CHECK(log.find("streams' and 4 slots' counters registered") != std::string::npos);
  // No supervisor, no control block: the merger opens the supervisor's, it never makes one
  // (one owner per segment).
  feeder_control_reader feeder;
  std::string why;
  CHECK(feeder_control_reader::try_open(feeder_control_name(bus.name(), venue::okx, slot_id::b), venue::okx, slot_id::b,
                                        300, feeder, why) == attach_status::await);
  // The supervisor's blocks (made here as it would), each sized for 300 symbols: the merger opens every one.
  std::vector<feeder_control_writer> controls;
  for (const venue v : {venue::binance, venue::okx})
    for (const slot_id s : {slot_id::a, slot_id::b})
      controls.push_back(feeder_control_writer::create(feeder_control_name(bus.name(), v, s), v, s, 300));
  CHECK(eventually([&] {
    const std::string text = read_file(dir.file("merge.log"));
    std::size_t opened = 0;
    for (std::size_t at = text.find("opened: resync requests reach"); at != std::string::npos;
         at = text.find("opened: resync requests reach", at + 1))
      ++opened;
    return opened == 4;
  }, 10s));
  REQUIRE(feeder_control_reader::try_open(feeder_control_name(bus.name(), venue::okx, slot_id::b), venue::okx, slot_id::b,
                                          300, feeder, why) == attach_status::ok);
  CHECK(feeder.slots() == 300 * kResyncChannelsPerSymbol);
  merger.signal(SIGTERM);
  CHECK(merger.wait(10000) == 0);
}


TEST_CASE("mdmerge: a SIGKILLed feeder's slot goes down in the output once, from the merger, before its successor's first marker") {
  // The ring is the feeder's alone: a killed feeder cannot say "down", so the merger, which
  // sees the ring's writer lock go, says it — once the ring is drained, or, if a successor
  // took the ring before a look saw it free, right before the successor's startup marker.
  unique_bus bus;
  temp_dir dir;
  exsim_process x(tls({"--rate", "200", "--seed", "11"}));
  const std::string config = write_bus_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), 200);
  std::vector<feeder_control_writer> controls;
  for (const slot_id s : {slot_id::a, slot_id::b})
    controls.push_back(feeder_control_writer::create(feeder_control_name(bus.name(), venue::okx, s), venue::okx, s, 2));
  auto a = std::make_unique<feeder_process>(config, "okx", "A", dir.file("feed-a1.log"));
  feeder_process b(config, "okx", "B", dir.file("feed-b.log"));
  child merger({mdmerge_binary(), "--config", config}, dir.file("merge.log"));
  output_log out(segment_name(bus.name(), "out"));
  auto markers_of_a = [&](slot_state st, slot_reason why) {
    out.poll();
    return static_cast<std::size_t>(std::count_if(out.markers.begin(), out.markers.end(), [&](const auto& m) {
      return m.v == venue::okx && m.slot == slot_id::a && m.state == st && m.reason == why;
    }));
  };
  REQUIRE(eventually([&] { return markers_of_a(slot_state::up, slot_reason::none) >= 1; }, 30s));

  // 1: killed, restarted only once the merger has said it (the lock seen free, the ring drained).
  a->signal(SIGKILL);
  REQUIRE(a->wait(5000) == 128 + SIGKILL);
  REQUIRE_MESSAGE(eventually([&] { return markers_of_a(slot_state::down, slot_reason::process_exit) == 1; }, 10s),
                  "merger log: " << read_file(dir.file("merge.log")));
  a = std::make_unique<feeder_process>(config, "okx", "A", dir.file("feed-a2.log"));
  REQUIRE(eventually([&] { return markers_of_a(slot_state::up, slot_reason::none) >= 2; }, 30s));
  // 2: killed and restarted at once (the successor may take the ring before the merger looks).
  a->signal(SIGKILL);
  REQUIRE(a->wait(5000) == 128 + SIGKILL);
  a = std::make_unique<feeder_process>(config, "okx", "A", dir.file("feed-a3.log"));
  REQUIRE(eventually([&] { return markers_of_a(slot_state::up, slot_reason::none) >= 3; }, 30s));
  // 3: stopped cleanly: it says "down" itself; the merger adds nothing.
  CHECK(a->stop() == 0);
  REQUIRE(eventually([&] { return markers_of_a(slot_state::down, slot_reason::operator_request) >= 1; }, 10s));
  const std::int64_t settle_until = wall_ns() + 200'000'000;  // 40 looks of the merger at the free lock
  REQUIRE(eventually([&] { return wall_ns() >= settle_until; }, 5s));

  CHECK(markers_of_a(slot_state::down, slot_reason::process_exit) == 2);
  // Each down (process_exit) comes right before a startup marker of the next process, never after it.
  std::vector<const output_log::marker*> a_markers;
  for (const auto& m : out.markers)
    if (m.v == venue::okx && m.slot == slot_id::a) a_markers.push_back(&m);
  std::size_t checked = 0;
  for (std::size_t i = 0; i < a_markers.size(); ++i) {
    if (a_markers[i]->reason != slot_reason::startup || i == 0) continue;
    CHECK(a_markers[i - 1]->state == slot_state::down);
    CHECK(a_markers[i - 1]->reason == slot_reason::process_exit);
    ++checked;
  }
  CHECK(checked == 2);
  CHECK(markers_of_a(slot_state::up, slot_reason::none) == 3);
  merger.signal(SIGTERM);
  CHECK(merger.wait(10000) == 0);
}
