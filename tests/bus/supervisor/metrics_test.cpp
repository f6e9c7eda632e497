#include "bus/supervisor/metrics.hpp"

#include "bus/merge/arbiter.hpp"
#include "support/eventually.hpp"
#include "support/run_capture.hpp"
#include "support/temp_dir.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace mdbus;
using namespace mdbus::supervise;

#ifndef MDBUS_PROMTOOL
#error "MDBUS_PROMTOOL must be defined by the build (the path of promtool, or empty)"
#endif

namespace {

constexpr std::int64_t kNow = 1'764'000'000'000'000'000;

/// A bus with two Binance slots (A live, B down) and an OKX slot whose feeder has not
/// created its status block yet.
metrics_input filled_input(const std::string& bus = "t") {
  metrics_input in;
  in.bus = bus;
  in.now_wall_ns = kNow;
  in.supervisor_uptime_seconds = 81.25;
  in.supervisor = {1234, true, 0, false, {true, 0.5, 8 << 20, 9 << 20}};
  in.merger = {1238, true, 2, false, {true, 3.25, 1 << 20, 1 << 20}};
  in.merge = {1000, 900, 2, 7, 3, 4, 320, 1, 0};

  slot_metrics a;
  a.venue_id = venue::binance;
  a.slot = slot_id::a;
  a.feeder_attached = true;
  a.feeder.state = feeder_state::live;
  a.feeder.connect_time_ns = kNow - 40'500'000'000;
  a.feeder.messages = 5000;
  a.feeder.bytes = 123'456'789;
  a.feeder.records = 4990;
  a.feeder.ring_overflows = 11;
  a.feeder.parse_errors_total = 3;
  a.feeder.reconnects = 4;
  a.feeder.pong_timeouts = 1;
  a.feeder.no_data_trips = 2;
  a.feeder.venue_notices = 1;
  a.feeder.resyncs_done = 6;
  a.feeder.backfilled_trades = 321;
  a.proactive_rotations = 3;
  a.forced_reconnections = 1;
  a.reconnection_time = {0.75, 0.5, 3};
  a.connected_seconds = 60;
  a.observed_seconds = 80;
  a.process = {1240, true, 1, false, {true, 1.5, 4 << 20, 5 << 20}};
  a.merge.first_arrivals = 600;
  a.merge.duplicates = 400;
  a.merge.lead_samples = 28;
  a.merge.lead_sum_ns = 1'500'000'000;
  a.merge.lead_max_ns = 120'000'000;
  a.merge.lead_buckets = {1, 2, 3, 4, 5, 6, 7};
  a.merge.feeder_ring_overflows = 11;

  slot_metrics b = a;
  b.slot = slot_id::b;
  b.feeder.state = feeder_state::down;
  b.feeder.connect_time_ns = 0;
  b.process = {0, false, 5, true, {}};
  b.reconnection_time = {};
  b.merge = {};

  slot_metrics okx;
  okx.venue_id = venue::okx;
  okx.slot = slot_id::a;
  okx.feeder_attached = false;
  okx.process = {1250, true, 0, false, {true, 0.0, 1 << 20, 1 << 20}};

  in.slots = {a, b, okx};
  return in;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  for (std::string l; std::getline(is, l);) out.push_back(l);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

/// Runs `promtool check metrics` on the text; returns its exit status and output.
test::run_result promtool_check(const std::string& text) {
  const std::string promtool = MDBUS_PROMTOOL;
  if (promtool.empty())
    FAIL("promtool was not found when the build was configured: install the Debian package `prometheus` "
         "(scripts/setup does), then re-run cmake");
  test::temp_dir dir("metrics_test");
  const std::string file = dir.file("metrics.prom");
  std::ofstream(file, std::ios::binary) << text;
  return test::run_capture("'" + promtool + "' check metrics < '" + file + "' 2>&1");
}

/// The family a sample line belongs to (histogram and summary suffixes stripped when that
/// family is declared as such).
std::string family_of(const std::string& sample, const std::map<std::string, std::string>& types) {
  const std::string name = sample.substr(0, sample.find_first_of("{ "));
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      const auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
    }
  }
  return name;
}

}  // namespace

TEST_CASE("render_metrics: promtool check metrics passes on a full bus") {
  const std::string text = render_metrics(filled_input());
  const auto r = promtool_check(text);
  INFO("promtool said: ", r.out);
  INFO("text:\n", text);
  CHECK(r.status == 0);
  CHECK(r.out.empty());
}

TEST_CASE("promtool check metrics is really run: it rejects a counter without _total and a family without HELP") {
  const auto r = promtool_check("# TYPE mdbus_bad counter\nmdbus_bad 1\n");
  CHECK(r.status != 0);
  CHECK(r.out.find("mdbus_bad") != std::string::npos);
}

TEST_CASE("render_metrics: every family has HELP and TYPE once, before its samples, and every sample carries bus") {
  const std::string text = render_metrics(filled_input());
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  for (const auto& l : lines_of(text)) {
    REQUIRE_FALSE(l.empty());
    if (l.rfind("# HELP ", 0) == 0) {
      const std::string name = l.substr(7, l.find(' ', 7) - 7);
      CHECK_MESSAGE(helps.insert(name).second, "HELP twice: ", name);
      CHECK(name.rfind("mdbus_", 0) == 0);
      continue;
    }
    if (l.rfind("# TYPE ", 0) == 0) {
      const std::string name = l.substr(7, l.find(' ', 7) - 7);
      const std::string type = l.substr(l.find(' ', 7) + 1);
      CHECK_MESSAGE(types.emplace(name, type).second, "TYPE twice: ", name);
      CHECK(helps.count(name) == 1);
      // Counters end in _total, nothing else does.
      CHECK((type == "counter") == (name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0));
      continue;
    }
    const std::string fam = family_of(l, types);
    CHECK_MESSAGE(types.count(fam) == 1, "sample before its TYPE: ", l);
    CHECK_MESSAGE(l.find("{bus=\"t\"") != std::string::npos, "no bus label: ", l);
  }
  // The seed's list and the race statistics are all there.
  for (const char* f :
       {"mdbus_reconnections_total", "mdbus_merge_gaps_total", "mdbus_merge_duplicates_total",
        "mdbus_merge_slot_duplicates_total", "mdbus_feeder_ring_overflows_total", "mdbus_reconnection_duration_avg_seconds",
        "mdbus_reconnection_duration_max_seconds", "mdbus_connection_uptime_ratio",
        "mdbus_process_peak_resident_memory_bytes", "mdbus_process_cpu_seconds_total",
        "mdbus_feeder_received_bytes_total", "mdbus_feeder_messages_total", "mdbus_merge_first_arrivals_total",
        "mdbus_merge_lead_seconds", "mdbus_feeder_state", "mdbus_merge_published_records_total",
        "mdbus_process_restarts_total", "mdbus_process_crash_loop", "mdbus_supervisor_uptime_seconds"})
    CHECK_MESSAGE(types.count(f) == 1, "missing family ", f);
  CHECK(types["mdbus_merge_lead_seconds"] == "histogram");
  CHECK(types["mdbus_feeder_state"] == "gauge");
}

TEST_CASE("render_metrics: exact samples of the main families") {
  const std::string text = render_metrics(filled_input());
  INFO("text:\n", text);
  const std::string a = R"(bus="t",venue="binance",slot="A")";
  const std::string b = R"(bus="t",venue="binance",slot="B")";
  const std::string okx = R"(bus="t",venue="okx",slot="A")";
  const std::vector<std::string> expected = {
           "mdbus_supervisor_uptime_seconds{bus=\"t\"} 81.25",
           "mdbus_reconnections_total{" + a + ",kind=\"proactive\"} 3",
           "mdbus_reconnections_total{" + a + ",kind=\"forced\"} 1",
           "mdbus_reconnection_duration_seconds_sum{" + a + "} 0.75",
           "mdbus_reconnection_duration_seconds_count{" + a + "} 3",
           "mdbus_reconnection_duration_avg_seconds{" + a + "} 0.25",
           "mdbus_reconnection_duration_max_seconds{" + a + "} 0.5",
           "mdbus_reconnection_duration_avg_seconds{" + b + "} 0",  // no reconnection yet: 0, not NaN
           "mdbus_connection_uptime_ratio{" + a + "} 0.75",
           "mdbus_connection_uptime_ratio{" + okx + "} 0",
           "mdbus_feeder_state{" + a + ",state=\"live\"} 1",
           "mdbus_feeder_state{" + a + ",state=\"down\"} 0",
           "mdbus_feeder_state{" + b + ",state=\"down\"} 1",
           "mdbus_feeder_state{" + okx + ",state=\"starting\"} 0",
           "mdbus_feeder_connection_age_seconds{" + a + "} 40.5",
           "mdbus_feeder_connection_age_seconds{" + b + "} 0",
           "mdbus_feeder_received_bytes_total{" + a + "} 123456789",
           "mdbus_feeder_messages_total{" + a + "} 5000",
           "mdbus_feeder_ring_overflows_total{" + a + "} 11",
           "mdbus_feeder_resyncs_total{" + a + "} 6",
           "mdbus_feeder_backfilled_trades_total{" + a + "} 321",
           "mdbus_merge_backfilled_trades_total{bus=\"t\"} 320",
           "mdbus_process_cpu_seconds_total{bus=\"t\",process=\"feeder\",venue=\"binance\",slot=\"A\"} 1.5",
           "mdbus_process_peak_resident_memory_bytes{bus=\"t\",process=\"feeder\",venue=\"binance\",slot=\"A\"} 5242880",
           "mdbus_process_resident_memory_bytes{bus=\"t\",process=\"merger\"} 1048576",
           "mdbus_process_cpu_seconds_total{bus=\"t\",process=\"supervisor\"} 0.5",
           "mdbus_process_up{bus=\"t\",process=\"feeder\",venue=\"binance\",slot=\"B\"} 0",
           "mdbus_process_pid{bus=\"t\",process=\"merger\"} 1238",
           "mdbus_process_restarts_total{bus=\"t\",process=\"feeder\",venue=\"binance\",slot=\"B\"} 5",
           "mdbus_process_crash_loop{bus=\"t\",process=\"feeder\",venue=\"binance\",slot=\"B\"} 1",
           "mdbus_process_restarts_total{bus=\"t\",process=\"merger\"} 2",
           "mdbus_merge_published_records_total{bus=\"t\"} 1000",
           "mdbus_merge_duplicates_total{bus=\"t\"} 900",
           "mdbus_merge_gaps_total{bus=\"t\"} 2",
           "mdbus_merge_first_arrivals_total{" + a + "} 600",
           "mdbus_merge_slot_duplicates_total{" + a + "} 400",
           "mdbus_merge_lead_max_seconds{" + a + "} 0.12",
  };
  for (const std::string& line : expected)
    CHECK_MESSAGE(has_line(text, line), "missing: ", line);

  // A slot without a status block shows no feeder counters; a process that is not running
  // shows no CPU or memory.
  CHECK(text.find("mdbus_feeder_messages_total{" + okx) == std::string::npos);
  CHECK(text.find("mdbus_process_cpu_seconds_total{bus=\"t\",process=\"feeder\",venue=\"binance\",slot=\"B\"}") ==
        std::string::npos);
  // The supervisor itself has no restart count.
  CHECK(text.find("mdbus_process_restarts_total{bus=\"t\",process=\"supervisor\"}") == std::string::npos);
}

TEST_CASE("render_metrics: the lead histogram is cumulative, ends in +Inf == _count, _sum in seconds") {
  const std::string text = render_metrics(filled_input());
  const std::string a = R"(bus="t",venue="binance",slot="A")";
  const char* les[] = {"1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1", "+Inf"};
  const std::uint64_t cumulative[] = {1, 3, 6, 10, 15, 21, 28};
  for (std::size_t i = 0; i < 7; ++i)
    CHECK(has_line(text, "mdbus_merge_lead_seconds_bucket{" + a + ",le=\"" + les[i] + "\"} " + std::to_string(cumulative[i])));
  CHECK(has_line(text, "mdbus_merge_lead_seconds_sum{" + a + "} 1.5"));
  CHECK(has_line(text, "mdbus_merge_lead_seconds_count{" + a + "} 28"));

  // Every slot's buckets: non-decreasing, and the last is +Inf and equals _count.
  std::map<std::string, std::vector<std::pair<std::string, std::uint64_t>>> buckets;
  std::map<std::string, std::uint64_t> counts;
  for (const auto& l : lines_of(text)) {
    const bool bucket = l.rfind("mdbus_merge_lead_seconds_bucket{", 0) == 0;
    if (!bucket && l.rfind("mdbus_merge_lead_seconds_count{", 0) != 0) continue;
    const std::uint64_t value = std::stoull(l.substr(l.rfind(' ') + 1));
    if (bucket) {
      const auto le_at = l.find(",le=\"");
      const std::string series = l.substr(0, le_at);
      const std::string le = l.substr(le_at + 5, l.find('"', le_at + 5) - le_at - 5);
      buckets[series].emplace_back(le, value);
    } else {
      counts["mdbus_merge_lead_seconds_bucket{" + l.substr(31, l.find('}') - 31)] = value;
    }
  }
  REQUIRE(buckets.size() == 3);
  for (const auto& [series, bs] : buckets) {
    INFO(series);
    REQUIRE(bs.size() == 7);
    for (std::size_t i = 1; i < bs.size(); ++i) CHECK(bs[i].second >= bs[i - 1].second);
    CHECK(bs.back().first == "+Inf");
    REQUIRE(counts.count(series) == 1);
    CHECK(bs.back().second == counts[series]);
  }
}

TEST_CASE("render_metrics: +Inf and _count agree when the merger's samples and buckets were read a moment apart") {
  metrics_input in = filled_input();
  in.slots[0].merge.lead_samples = 30;  // two more samples than the buckets hold
  const std::string text = render_metrics(in);
  const std::string a = R"(bus="t",venue="binance",slot="A")";
  CHECK(has_line(text, "mdbus_merge_lead_seconds_bucket{" + a + ",le=\"0.1\"} 21"));
  CHECK(has_line(text, "mdbus_merge_lead_seconds_bucket{" + a + ",le=\"+Inf\"} 30"));
  CHECK(has_line(text, "mdbus_merge_lead_seconds_count{" + a + "} 30"));
  CHECK(promtool_check(text).status == 0);
}

TEST_CASE("render_metrics: label values escape quote, backslash and newline") {
  const std::string text = render_metrics(filled_input("we\"ird\\bus\nname"));
  CHECK(has_line(text, R"(mdbus_supervisor_uptime_seconds{bus="we\"ird\\bus\nname"} 81.25)"));
  CHECK(has_line(text, R"(mdbus_merge_gaps_total{bus="we\"ird\\bus\nname"} 2)"));
  const auto r = promtool_check(text);
  INFO("promtool said: ", r.out);
  CHECK(r.status == 0);
}

TEST_CASE("render_metrics: an empty bus (no slots, nothing running) is still valid exposition") {
  metrics_input in;
  in.bus = "empty";
  const std::string text = render_metrics(in);
  CHECK(has_line(text, R"(mdbus_merge_published_records_total{bus="empty"} 0)"));
  CHECK(has_line(text, R"(mdbus_process_up{bus="empty",process="merger"} 0)"));
  const auto r = promtool_check(text);
  INFO("promtool said: ", r.out);
  CHECK(r.status == 0);
}

TEST_CASE("lead histogram bounds are the merger's") {
  static_assert(kLeadBuckets == merge::kLeadBuckets);
  CHECK(kLeadBucketBoundsNs == merge::kLeadBucketBoundsNs);
}

TEST_CASE("read_process_usage: own CPU time and peak memory, fields counted from the last ')' of the name") {
  char old_name[17] = {};
  prctl(PR_GET_NAME, old_name, 0, 0, 0);
  prctl(PR_SET_NAME, "a) b (c) d", 0, 0, 0);  // spaces and parentheses in comm

  // 64 MiB touched page by page: the peak resident set holds it.
  constexpr std::size_t kBuffer = 64u << 20;
  std::vector<char> buffer(kBuffer);
  for (std::size_t i = 0; i < kBuffer; i += 4096) buffer[i] = static_cast<char>(i >> 12);

  // Burn 0.3 s of CPU (bounded by CPU time, which always advances).
  auto cputime = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  const double start = cputime();
  volatile std::uint64_t sink = 0;
  while (cputime() < start + 0.3)
    for (int i = 0; i < 10000; ++i) sink = sink + static_cast<std::uint64_t>(i) * 7;
  const double before = cputime();
  const process_usage u = read_process_usage(getpid());
  const double after = cputime();
  prctl(PR_SET_NAME, old_name, 0, 0, 0);

  REQUIRE(u.ok);
  CHECK(u.cpu_seconds > 0.2);
  // Ticks (10 ms) lag the precise clock a little; a wrong field would be far off.
  CHECK(u.cpu_seconds <= after + 0.05);
  CHECK(u.cpu_seconds >= before - 0.1);
  CHECK(u.peak_rss_bytes >= kBuffer);
  CHECK(u.rss_bytes > 0);
  CHECK(u.peak_rss_bytes >= u.rss_bytes);
  CHECK(buffer[4096] == 1);
}

TEST_CASE("read_process_usage: ok=false for an exited (zombie) child, a reaped child and no pid") {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(0);
  // Until it is reaped the child is a zombie: exited, so not ok.
  CHECK(test::eventually([&] { return !read_process_usage(child).ok; }));
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK_FALSE(read_process_usage(child).ok);
  CHECK_FALSE(read_process_usage(0).ok);
  CHECK_FALSE(read_process_usage(-1).ok);
}

TEST_CASE("read_merger_counters: fills totals and per-slot race counters by label, missing ones read 0") {
  test::unique_bus bus;
  auto owner = counters_segment::create(bus.segment("counters"), 256);
  auto reg = [&](const std::string& label, std::int64_t v) { owner.register_counter(label).set(v); };
  reg("merge.published", 1000);
  reg("merge.duplicates", 900);
  reg("merge.gaps", 2);
  reg("merge.holes_filled", 7);
  reg("merge.resync_requests", 3);
  reg("merge.hold_overflows", 55);  // not shown
  reg("merge.binance.A.first_arrivals", 600);
  reg("merge.binance.A.duplicates", 400);
  reg("merge.binance.A.lead_samples", 28);
  reg("merge.binance.A.lead_sum_ns", 1'500'000'000);
  reg("merge.binance.A.lead_max_ns", 120'000'000);
  const char* buckets[] = {"lt_1us", "lt_10us", "lt_100us", "lt_1ms", "lt_10ms", "lt_100ms", "ge_100ms"};
  for (int b = 0; b < 7; ++b) reg(std::string("merge.binance.A.lead_") + buckets[b], b + 1);
  reg("merge.binance.A.feeder_ring_overflows", 11);
  reg("merge.backfilled", 45);
  reg("merge.binance.A.frames", 12345);  // not shown
  reg("merge.binance.B.first_arrivals", 400);
  reg("merge.binance.B.duplicates", 600);
  // Per-stream counters must not land in the slot's figures.
  reg("merge.binance.trade.BTCUSDT.A.first_arrivals", 999'999);
  reg("merge.binance.trade.BTCUSDT.A.duplicates", 888'888);
  reg("supervisor.binance.A.proactive", 77);
  reg("merge.binance.C.first_arrivals", 5);  // no such slot configured

  metrics_input in = filled_input();
  // Stale figures from the previous scrape are replaced, not added to.
  in.merge = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  for (auto& s : in.slots) {
    s.merge.first_arrivals = 42;
    s.merge.lead_buckets.fill(42);
  }
  const auto tool = counters_segment::open(bus.segment("counters"), access_mode::read_only);
  read_merger_counters(tool, in);

  CHECK(in.merge.published == 1000);
  CHECK(in.merge.duplicates == 900);
  CHECK(in.merge.gaps == 2);
  CHECK(in.merge.holes_filled == 7);
  CHECK(in.merge.resync_requests == 3);
  CHECK(in.merge.backfilled == 45);
  CHECK(in.merge.backfill_gaps == 0);
  const auto& a = in.slots[0].merge;
  CHECK(a.first_arrivals == 600);
  CHECK(a.duplicates == 400);
  CHECK(a.lead_samples == 28);
  CHECK(a.lead_sum_ns == 1'500'000'000);
  CHECK(a.lead_max_ns == 120'000'000);
  CHECK(a.lead_buckets == std::array<std::uint64_t, 7>{1, 2, 3, 4, 5, 6, 7});
  CHECK(a.feeder_ring_overflows == 11);
  const auto& b = in.slots[1].merge;
  CHECK(b.first_arrivals == 400);
  CHECK(b.duplicates == 600);
  CHECK(b.lead_samples == 0);
  CHECK(b.lead_buckets == std::array<std::uint64_t, 7>{});
  const auto& okx = in.slots[2].merge;  // nothing registered for it
  CHECK(okx.first_arrivals == 0);
  CHECK(okx.lead_buckets == std::array<std::uint64_t, 7>{});

  const std::string text = render_metrics(in);
  CHECK(has_line(text, R"(mdbus_merge_first_arrivals_total{bus="t",venue="binance",slot="B"} 400)"));
  CHECK(has_line(text, R"(mdbus_merge_lead_seconds_bucket{bus="t",venue="binance",slot="A",le="+Inf"} 28)"));
  CHECK(promtool_check(text).status == 0);
}

TEST_CASE("read_merger_counters: an empty segment (merger not started) gives zeros") {
  test::unique_bus bus;
  auto owner = counters_segment::create(bus.segment("counters"), 16);
  metrics_input in = filled_input();
  read_merger_counters(owner, in);
  CHECK(in.merge.published == 0);
  CHECK(in.merge.gaps == 0);
  for (const auto& s : in.slots) {
    CHECK(s.merge.first_arrivals == 0);
    CHECK(s.merge.lead_samples == 0);
  }
}

TEST_CASE("read_merger_counters and render_metrics: a connection group's slot is read by its group and labelled with it") {
  test::unique_bus bus;
  auto owner = counters_segment::create(bus.segment("counters"), 64);
  owner.register_counter("merge.binance.A.first_arrivals").set(600);
  owner.register_counter("merge.binance.g2.A.first_arrivals").set(70);
  owner.register_counter("merge.binance.g2.A.lead_samples").set(5);
  metrics_input in = filled_input();
  slot_metrics g2 = in.slots[0];
  g2.group = 2;
  g2.group_label = "2";
  in.slots.push_back(g2);
  read_merger_counters(owner, in);
  CHECK(in.slots[0].merge.first_arrivals == 600);  // group 0: merge.binance.A.*
  CHECK(in.slots.back().merge.first_arrivals == 70);
  CHECK(in.slots.back().merge.lead_samples == 5);
  const std::string text = render_metrics(in);
  CHECK(has_line(text, R"(mdbus_merge_first_arrivals_total{bus="t",venue="binance",slot="A"} 600)"));
  CHECK(has_line(text, R"(mdbus_merge_first_arrivals_total{bus="t",venue="binance",slot="A",group="2"} 70)"));
  // Its process too: two feeders of one venue and slot are two series, told apart by the group.
  CHECK(has_line(text, R"(mdbus_process_cpu_seconds_total{bus="t",process="feeder",venue="binance",slot="A"} 1.5)"));
  CHECK(has_line(text, R"(mdbus_process_cpu_seconds_total{bus="t",process="feeder",venue="binance",slot="A",group="2"} 1.5)"));
  // No two samples of one family with the same labels.
  std::set<std::string> seen;
  for (const auto& line : lines_of(text))
    if (!line.empty() && line[0] != '#') CHECK_MESSAGE(seen.insert(line.substr(0, line.rfind(' '))).second, line);
  CHECK(promtool_check(text).status == 0);
}
