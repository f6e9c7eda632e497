// Backfill end to end (issue 16): both Binance slots cut at once while the market trades on, so
// neither slot has the trades of the outage. The merger asks the slot that comes back for the
// missing ids, its feeder fetches them from exsim's trade history over REST, and the output
// holds every trade of every stream exactly once, in order, against exsim's ground truth — with
// no gap record. And the streams whose ids cannot show a hole (OKX trades, bbo-tbt): both OKX
// slots cut at once, each gets a suspect record for the outage, and OKX trades then get the
// window's fills from the venue's history: none lost. Real processes: exsim over TLS,
// two mdfeed, mdmerge.
#include <doctest/doctest.h>

#include "bus/clock.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"
#include "tests/support/read_file.hpp"
#include "tests/support/spawn.hpp"
#include "tests/support/truth_compare.hpp"

#include <filesystem>

using namespace mdbus;
using namespace mdbus::test;

namespace {

/// One venue, two slots. Binance: trade and aggTrade; OKX: trades, bbo-tbt and books.
std::string write_config(const std::string& path, const std::string& bus, const exsim_process& x, int backfill_bound_ms,
                         venue v) {
  json ep = {{"host", "127.0.0.1"}, {"port", x.venue_port()}, {"tls", true}, {"server_name", "localhost"},
             {"ca_file", exsim_cert_dir() + "/ca.pem"}};
  json rest = ep;
  const bool okx = v == venue::okx;
  rest["port"] = okx ? x.okx_rest_port() : x.binance_rest_port();
  json policy = {{"reconnect_min_ms", 50}, {"reconnect_max_ms", 500}, {"connect_timeout_ms", 5000}, {"drain_timeout_ms", 500}};
  json cfg = {{"bus", bus},
              {"rings", {{"feeder_bytes", 8 << 20}, {"output_bytes", 32 << 20}}},
              {"merge", {{"hole_fill_ms", 50}, {"backfill_bound_ms", backfill_bound_ms}, {"idle", "backoff"}, {"idle_sleep_max_us", 200}}},
              {"venues",
               {{okx ? "okx" : "binance",
                 {{"endpoint", ep},
                  {"rest_endpoint", rest},
                  {"symbols", okx ? json{"BTC-USDT", "ETH-USDT"} : json{"BTCUSDT", "ETHUSDT"}},
                  {"channels", okx ? json{"trades", "bbo-tbt", "books"} : json{"trade", "aggTrade"}},
                  {"slots", {"A", "B"}},
                  {"policy", policy}}}}}};
  std::ofstream(path) << cfg.dump(2);
  return path;
}

std::set<stream_ref> trade_streams() {
  std::set<stream_ref> s;
  for (const char* sym : {"BTCUSDT", "ETHUSDT"})
    for (channel c : {channel::binance_trade, channel::binance_agg_trade}) s.insert({venue::binance, c, sym});
  return s;
}

/// exsim, the control blocks and counters (the supervisor's part), two feeders and the merger.
struct bus_rig {
  unique_bus bus;
  temp_dir dir;
  std::string truth_path = dir.file("truth.bin");
  exsim_process x;
  std::string config;
  std::vector<feeder_control_writer> controls;
  counters_segment counters;
  std::vector<std::unique_ptr<feeder_process>> feeders;
  std::unique_ptr<child> merger;
  std::vector<feeder_status_reader> status;

  explicit bus_rig(int backfill_bound_ms, std::string trade_history = "10000", venue v = venue::binance)
      : x(tls({"--rate", "800", "--seed", "16", "--truth-log", truth_path, "--trade-history", trade_history})),
        config(write_config(dir.file("bus.json"), bus.name(), x, backfill_bound_ms, v)),
        counters(counters_segment::create(segment_name(bus.name(), "counters"), 4096)) {
    for (const slot_id s : {slot_id::a, slot_id::b})
      controls.push_back(feeder_control_writer::create(feeder_control_name(bus.name(), v, s), v, s, 2));
    for (const char* s : {"A", "B"})
      feeders.push_back(std::make_unique<feeder_process>(config, std::string(to_string(v)), s, dir.file(std::string("feed-") + s + ".log")));
    merger = std::make_unique<child>(std::vector<std::string>{MDMERGE_BINARY, "--config", config}, dir.file("merge.log"));
    for (const slot_id s : {slot_id::a, slot_id::b}) status.push_back(open_status(bus.name(), v, s));
  }
  std::int64_t counter(const std::string& name) const { return counters.find(name).value_or(-1); }

  /// Both slots down at the same moment, the market trading on until the truth log has grown
  /// by `bytes`, then both back.
  void cut_both(output_log& out, std::uintmax_t bytes) {
    for (auto& c : controls) c.send(feeder_command::disconnect);
    REQUIRE(eventually([&] {
      out.poll();
      return status[0].state() == feeder_state::down && status[1].state() == feeder_state::down;
    }));
    const std::uintmax_t at = std::filesystem::file_size(truth_path);
    REQUIRE(eventually([&] { return std::filesystem::file_size(truth_path) >= at + bytes; }, 20s));
    for (auto& c : controls) c.send(feeder_command::connect);
    REQUIRE(eventually([&] {
      out.poll();
      return status[0].state() == feeder_state::live && status[1].state() == feeder_state::live;
    }, 20s));
  }
};

}  // namespace

TEST_CASE("mdmerge backfill: both Binance slots cut at once lose no trade: the outage is fetched from the venue's history, no gap record") {
  bus_rig r(5000);
  output_log out(segment_name(r.bus.name(), "out"));
  const std::set<stream_ref> wanted = trade_streams();
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, wanted, 5); }, 30s), "every stream reaches the output");

  for (int round = 0; round < 2; ++round) {
    r.cut_both(out, 64 * 1024);  // a few hundred trades of the outage
    const std::uint64_t before = out.records;
    REQUIRE(eventually([&] {
      out.poll();
      return out.records >= before + 300;
    }));
  }
  REQUIRE(http_request(r.x.control_port(), "POST", "/market", R"({"paused":true})").json()["ok"] == true);
  std::map<stream_ref, std::vector<std::uint64_t>> truth;
  REQUIRE_MESSAGE(output_caught_up(out, r.truth_path, wanted, truth, [](auto pred) { return eventually(pred, 30s); }),
                  "the output catches up with the truth; merger log: " << read_file(r.dir.file("merge.log")));
  const truth_totals totals = check_against_truth(truth, out, wanted);
  MESSAGE("backfill run: 2 cuts of both slots, ", totals.expected, " trades expected, ", totals.delivered, " delivered, ",
          r.counter("merge.backfilled"), " backfilled in ", r.counter("merge.backfill_requests"), " requests");
  CHECK(out.gaps.empty());
  for (const auto& g : out.gaps) MESSAGE("gap: ", g);
  CHECK(out.laps == 0);
  // The outage's trades came from the history, asked once per stream and cut (4 streams × 2).
  REQUIRE(eventually([&] { return r.counter("merge.backfilled") > 0; }, 5s));  // counters refresh every 100 ms
  CHECK(r.counter("merge.backfill_requests") >= 4);
  CHECK(r.counter("merge.backfill_gaps") == 0);
  CHECK(r.counter("merge.backfill_unrouted") == 0);
  CHECK(r.counter("merge.gaps") == 0);
  std::uint64_t fetched = 0;
  for (auto& s : r.status) fetched += s.snapshot().backfilled_trades;
  CHECK(fetched >= static_cast<std::uint64_t>(r.counter("merge.backfilled")));
  r.merger->signal(SIGTERM);
  CHECK(r.merger->wait(10000) == 0);
  for (auto& f : r.feeders) CHECK(f->stop() == 0);
}

TEST_CASE("mdmerge backfill: trades older than the venue keeps are a gap record that says backfill_failed, at once, and the stream goes on") {
  bus_rig r(5000, "1");  // exsim keeps one trade per instrument: an outage's trades are gone
  output_log out(segment_name(r.bus.name(), "out"));
  const std::set<stream_ref> wanted = trade_streams();
  REQUIRE(eventually([&] { return every_stream_delivered(out, wanted, 5); }, 30s));
  r.cut_both(out, 32 * 1024);
  const std::int64_t back = wall_ns();
  REQUIRE_MESSAGE(eventually([&] {
    out.poll();
    return out.gaps.size() >= 4;
  }, 20s), "merger log: " << read_file(r.dir.file("merge.log")));
  for (const auto& g : out.gaps) CHECK(g.find("(backfill_failed)") != std::string::npos);
  // Told by the feeders, not found out at the bound (5 s).
  CHECK(wall_ns() - back < 4'000'000'000);
  REQUIRE(eventually([&] { return r.counter("merge.backfill_gaps") >= 4; }, 5s));
  // The streams go on after their gap records.
  const std::uint64_t before = out.records;
  REQUIRE(eventually([&] {
    out.poll();
    return out.records >= before + 200;
  }));
  std::uint64_t failures = 0;
  for (auto& s : r.status) failures += s.snapshot().backfill_failures;
  CHECK(failures >= 4);
  const std::string logs = read_file(r.dir.file("feed-A.log")) + read_file(r.dir.file("feed-B.log"));
  const bool said = logs.find("older than the venue's history") != std::string::npos;  // the feeders' one line
  CHECK(said);
  r.merger->signal(SIGTERM);
  CHECK(r.merger->wait(10000) == 0);
  for (auto& f : r.feeders) CHECK(f->stop() == 0);
}

TEST_CASE("mdmerge suspect windows: both OKX slots cut at once: each stream whose ids cannot show a loss gets a suspect record, and OKX trades lose nothing") {
  bus_rig r(5000, "10000", venue::okx);
  output_log out(segment_name(r.bus.name(), "out"));
  std::set<stream_ref> wanted;
  for (const char* sym : {"BTC-USDT", "ETH-USDT"})
    for (channel c : {channel::okx_trades, channel::okx_bbo_tbt, channel::okx_books}) wanted.insert({venue::okx, c, sym});
  REQUIRE(eventually([&] { return every_stream_delivered(out, wanted, 3); }, 30s));
  // A single slot's cut is no outage: its partner carries (once both are up: a slot cut while
  // its partner is still connecting is a whole-group outage, and gets its suspect records).
  REQUIRE(eventually([&] {
    out.poll();
    return r.status[0].state() == feeder_state::live && r.status[1].state() == feeder_state::live &&
           std::count_if(out.markers.begin(), out.markers.end(), [](const auto& m) { return m.state == slot_state::up; }) >= 2;
  }, 20s));
  r.controls[0].send(feeder_command::reconnect);
  REQUIRE(eventually([&] {
    out.poll();
    return r.status[0].fields().reconnects >= 1 && r.status[0].state() == feeder_state::live;
  }, 20s));
  const std::int64_t before = wall_ns();
  r.cut_both(out, 32 * 1024);
  const std::int64_t after = wall_ns();
  auto suspects = [&] {
    out.poll();
    return std::count_if(out.gaps.begin(), out.gaps.end(), [](const std::string& g) { return g.find("(suspect_window)") != std::string::npos; });
  };
  // trades and bbo-tbt of both instIds; books show their holes in their chain (a gap and a
  // resync when they lost something), so they get none.
  REQUIRE_MESSAGE(eventually([&] { return suspects() == 4; }, 10s), "merger log: " << read_file(r.dir.file("merge.log")));
  for (const auto& g : out.gaps)
    if (g.find("(suspect_window)") != std::string::npos) CHECK(g.find("/books/") == std::string::npos);
  REQUIRE(eventually([&] { return r.counter("merge.suspect_windows") == 4; }, 5s));
  // The window is the outage: it began after the cut was asked and ended before both were live.
  for (const gap_record& g : out.gap_records) {
    if (g.reason != gap_reason::suspect_window) continue;
    CHECK(g.header.venue_time_ns >= before);
    CHECK(g.held_ns > 0);
    CHECK(g.header.venue_time_ns + g.held_ns <= after);
    CHECK(g.first_seq_after == 0);
    CHECK(g.last_seq_held > 0);  // trades and bbo-tbt carry ids: the last one before the window
  }
  const std::string text = read_file(r.dir.file("merge.log"));
  CHECK(text.find("every slot of the group was down for") != std::string::npos);
  // The streams go on.
  const std::uint64_t n = out.records;
  REQUIRE(eventually([&] {
    out.poll();
    return out.records >= n + 200;
  }));
  CHECK(suspects() == 4);
  // OKX trades lost nothing: the window's fills came from the venue's history. Every trade of
  // the truth is in the output (an aggregated trade's id is its last fill's), and the output's
  // trades cover every fill id once, in order: a stream trade its `count` fills up to its id, a
  // backfilled one its own (exsim's fill ids count up by one).
  REQUIRE(http_request(r.x.control_port(), "POST", "/market", R"({"paused":true})").json()["ok"] == true);
  std::set<stream_ref> trades;
  for (const char* sym : {"BTC-USDT", "ETH-USDT"}) trades.insert({venue::okx, channel::okx_trades, sym});
  std::map<stream_ref, std::vector<std::uint64_t>> truth;
  REQUIRE_MESSAGE(output_caught_up(out, r.truth_path, trades, truth, [](auto pred) { return eventually(pred, 30s); }),
                  "merger log: " << read_file(r.dir.file("merge.log")));
  const truth_totals totals = check_against_truth(truth, out, trades);
  std::size_t fills = 0;
  for (const stream_ref& s : trades) {
    INFO(name_of(s));
    const auto& marks = out.trades[s];
    REQUIRE(!marks.empty());
    std::uint64_t next = marks.front().seq - (marks.front().backfilled ? 0 : marks.front().count - 1);
    for (const auto& m : marks) {
      const std::uint64_t first = m.backfilled ? m.seq : m.seq - (m.count - 1);
      CHECK_MESSAGE(first == next, "fills " << next << ".." << first - 1 << " missing or doubled before " << m.seq);
      next = m.seq + 1;
      fills += m.backfilled ? 1 : 0;
    }
  }
  MESSAGE("OKX window backfill: ", totals.expected, " trades expected, ", totals.delivered, " records delivered, ", fills,
          " of them fills from the history");
  CHECK(fills > 0);
  REQUIRE(eventually([&] { return r.counter("merge.backfilled") == static_cast<std::int64_t>(fills); }, 5s));
  CHECK(r.counter("merge.backfill_requests") >= 1);
  CHECK(r.counter("merge.backfill_gaps") == 0);
  for (const auto& g : out.gap_records)  // books show their loss in their chain (gap, resync); trades only the window
    if (g.header.channel_id == channel::okx_trades) CHECK(g.reason == gap_reason::suspect_window);
  r.merger->signal(SIGTERM);
  CHECK(r.merger->wait(10000) == 0);
  for (auto& f : r.feeders) CHECK(f->stop() == 0);
}
