// latency_probe — an example strategy that measures the bus: for every record, three
// latencies from the timestamps the record carries plus the moment this consumer read it,
// as histograms, and the count of gap records and of laps. See README.md.
//
//   venue → receive     receive_time_ns - venue_time_ns   (the venue's clock vs ours: network + skew)
//   receive → publish   publish_time_ns - receive_time_ns (feeder parse + ring + merger)
//   publish → consumer  now - publish_time_ns             (output ring hop + this consumer's wait)
#include "bus/clock.hpp"
#include "mdbus/consumer.hpp"
#include "consumers/examples/example_common.hpp"
#include "consumers/examples/latency_probe/histogram.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using namespace mdbus;
using mdbus::examples::g_stop;
using mdbus::examples::latency_histogram;

namespace {

struct probe {
  latency_histogram venue_to_receive, receive_to_publish, publish_to_consumer;
  std::uint64_t records = 0, gaps = 0, no_venue_time = 0, unpublished = 0;

  void on(const record_header& h, std::int64_t now) noexcept {
    ++records;
    if (h.type == record_type::gap) ++gaps;
    if (h.venue_time_ns != 0 && h.receive_time_ns != 0)
      venue_to_receive.record(h.receive_time_ns - h.venue_time_ns);
    else
      ++no_venue_time;  // Binance bookTicker and REST snapshots carry no event time
    if (h.publish_time_ns == 0) {
      ++unpublished;  // not stamped by a merger (a feeder ring replayed, a test ring)
      return;
    }
    if (h.receive_time_ns != 0) receive_to_publish.record(h.publish_time_ns - h.receive_time_ns);
    publish_to_consumer.record(now - h.publish_time_ns);
  }
};

std::string human(std::int64_t ns) {
  char buf[32];
  if (ns < 10'000)
    std::snprintf(buf, sizeof buf, "%lld ns", static_cast<long long>(ns));
  else if (ns < 10'000'000)
    std::snprintf(buf, sizeof buf, "%.1f us", static_cast<double>(ns) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

void print_histogram(const char* name, const latency_histogram& h) {
  std::printf("%-20s n=%-9llu p50 %-10s p90 %-10s p99 %-10s p99.9 %-10s max %-10s", name,
              static_cast<unsigned long long>(h.count()), human(h.quantile(0.5)).c_str(), human(h.quantile(0.9)).c_str(),
              human(h.quantile(0.99)).c_str(), human(h.quantile(0.999)).c_str(), human(h.max()).c_str());
  if (h.negative() != 0) std::printf(" negative %llu", static_cast<unsigned long long>(h.negative()));
  std::printf("\n");
  std::uint64_t peak = 0;
  h.for_each_bucket([&](std::int64_t, std::int64_t, std::uint64_t n) { peak = n > peak ? n : peak; });
  h.for_each_bucket([&](std::int64_t lo, std::int64_t hi, std::uint64_t n) {
    const int bar = static_cast<int>(50.0 * static_cast<double>(n) / static_cast<double>(peak) + 0.5);
    std::printf("  %10s .. %-10s %9llu %.*s\n", human(lo).c_str(), human(hi).c_str(), static_cast<unsigned long long>(n),
                bar, "##################################################");
  });
}

void print_report(const probe& p, const consumer& c) {
  print_histogram("venue->receive", p.venue_to_receive);
  print_histogram("receive->publish", p.receive_to_publish);
  print_histogram("publish->consumer", p.publish_to_consumer);
  const auto& s = c.stats();
  std::printf("records %llu  gaps %llu  laps %llu (missed %llu records, %llu bytes)  no venue time %llu  unpublished %llu\n\n",
              static_cast<unsigned long long>(p.records), static_cast<unsigned long long>(p.gaps),
              static_cast<unsigned long long>(s.laps), static_cast<unsigned long long>(s.missed_frames),
              static_cast<unsigned long long>(s.missed_bytes), static_cast<unsigned long long>(p.no_venue_time),
              static_cast<unsigned long long>(p.unpublished));
  std::fflush(stdout);
}

nlohmann::json histogram_json(const latency_histogram& h) {
  return {{"count", h.count()},          {"negative", h.negative()},       {"min_ns", h.min()},
          {"p50_ns", h.quantile(0.5)},   {"p90_ns", h.quantile(0.9)},      {"p99_ns", h.quantile(0.99)},
          {"p999_ns", h.quantile(0.999)}, {"max_ns", h.max()},             {"mean_ns", h.mean()}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"latency_probe — latency histograms and gap/lap counts of an mdbus output ring"};
  examples::common_options opt;
  opt.interval_s = 5;
  std::vector<std::string> types;
  bool busy = false, json = false;
  examples::add_common_options(app, opt, "seconds between reports");
  app.add_option("--type", types, "only these record types (trade, bbo, book, book_delta, book_snapshot, gap, slot_status, mark_funding, instrument)");
  app.add_flag("--busy", busy, "busy-spin while waiting (lowest publish->consumer latency, one core at 100 %)");
  app.add_flag("--json", json, "print one JSON summary at the end instead of text reports");
  CLI11_PARSE(app, argc, argv);

  opt.consumer.on_lap = lap_policy::resume_newest;  // a probe wants the present, not a backlog
  consumer c;
  if (const int rc = examples::open_consumer("latency_probe", opt, c, [&](record_filter& f) {
        for (const auto& t : types) f.type_name(t);
      }))
    return rc;
  examples::install_stop_handlers();
  const bool oldest = opt.oldest, drain = opt.drain;
  const double interval_s = opt.interval_s, duration_s = opt.duration_s;
  // Scripts (and tests) wait for this line: from here on every record published is counted.
  std::fprintf(stderr, "latency_probe: reading %s from its %s record\n", c.segment().name().c_str(),
               oldest ? "oldest" : "newest");

  idle_policy idle;
  if (busy) idle.mode = idle_mode::busy_spin;
  probe p;
  const auto interval_ns = static_cast<std::int64_t>(interval_s * 1e9);
  const std::int64_t end = duration_s > 0 ? mono_ns() + static_cast<std::int64_t>(duration_s * 1e9) : 0;
  std::int64_t next_report = mono_ns() + interval_ns;
  while (g_stop == 0) {
    const std::int64_t now = mono_ns();
    if (end != 0 && now >= end) break;
    if (now >= next_report) {
      if (!json) print_report(p, c);
      next_report = now + interval_ns;
    }
    const poll_result r = drain ? c.poll() : c.wait(std::min<std::int64_t>(100'000'000, next_report - now), idle);
    if (r.status == poll_status::record)
      p.on(r.record.header(), wall_ns());
    else if (r.status == poll_status::empty && drain)
      break;
  }
  // What arrived before the stop (or the end of --duration) is still counted, and a lap that
  // happened while this process was not scheduled is reported rather than lost.
  for (std::size_t n = 0; n < (std::size_t{1} << 20); ++n) {
    const poll_result r = c.poll();
    if (r.status == poll_status::record)
      p.on(r.record.header(), wall_ns());
    else if (r.status == poll_status::empty)
      break;
  }
  if (json) {
    const auto& s = c.stats();
    const nlohmann::json out = {{"records", p.records},
                                {"gaps", p.gaps},
                                {"laps", s.laps},
                                {"missed_records", s.missed_frames},
                                {"missed_bytes", s.missed_bytes},
                                {"no_venue_time", p.no_venue_time},
                                {"unpublished", p.unpublished},
                                {"venue_to_receive", histogram_json(p.venue_to_receive)},
                                {"receive_to_publish", histogram_json(p.receive_to_publish)},
                                {"publish_to_consumer", histogram_json(p.publish_to_consumer)}};
    std::cout << out.dump() << "\n";
  } else {
    print_report(p, c);
  }
  return 0;
}
