// merge_bench — the merger's cost: two feeder rings holding the same stream (slot A and slot
// B, as two live connections deliver it) merged into the output ring by the real mdmerge
// engine (merge::merger: ring reads, record validation, arbitration, publish-time stamping,
// output ring writes), against a plain copy of the same frames from the same rings into the
// same output ring, measured in the same run.
//
//   build/bench/merge_bench [--records N] [--symbols S] [--quick]
//
// Throughput: both rings are filled first, then one thread drains them (the merger's loop,
// timed from its first poll to the last record). Records/s counts the records taken from
// the inputs (2 per venue event: both copies). Added latency per record: each record is
// taken on its own (one record in slot A's ring, batch of 1: the path of a record that wins)
// and the call is timed; p50/p99 of merge minus the same for the plain copy is what
// arbitration adds to a record's path.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "bus/config/config.hpp"
#include "bus/feeder_block.hpp"
#include "bus/merge/merger.hpp"
#include "mdbus/records.hpp"
#include "bus/spsc_ring.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

using namespace mdbus;

namespace {

constexpr const char* kSymbols[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "TRXUSDT"};

config::bus_config make_config(const std::string& bus, std::size_t symbols, std::uint64_t feeder_bytes) {
  config::bus_config c;
  c.bus = bus;
  c.rings.feeder_bytes = feeder_bytes;
  c.rings.output_bytes = 64 << 20;
  config::venue_config v;
  v.id = venue::binance;
  for (std::size_t i = 0; i < symbols; ++i) v.symbols.emplace_back(kSymbols[i]);
  v.channels.push_back({channel::binance_trade, "", "trade"});
  v.channels.push_back({channel::binance_book_ticker, "", "bookTicker"});
  v.slots = {slot_id::a, slot_id::b};
  c.venues.push_back(v);
  return c;
}

/// Event i of the stream: alternating trades (consecutive ids per symbol) and BBOs
/// (increasing ids), round-robin over the symbols — the mix a busy venue connection carries.
std::vector<std::byte> event(std::size_t i, std::size_t symbols, slot_id slot) {
  const std::size_t sym = i % symbols;
  const std::uint64_t n = i / symbols;
  std::vector<std::byte> out;
  auto stamp = [&](record_header& h, channel c) {
    h.venue_id = venue::binance;
    h.channel_id = c;
    h.slot = slot;
    h.flags |= kHeaderHasSeq;
    h.set_symbol(kSymbols[sym]);
    h.venue_time_ns = static_cast<std::int64_t>(1'700'000'000'000'000'000 + i * 1000);
    h.receive_time_ns = h.venue_time_ns + 500;
  };
  if (n % 2 == 0) {
    auto t = make_record<trade_record>();
    stamp(t.header, channel::binance_trade);
    t.header.seq = n / 2 + 1;
    t.set_px({6'000'000 + static_cast<std::int64_t>(n % 100), -2});
    t.set_qty({12345, -5});
    t.trade_count = 1;
    const auto b = record_bytes(t);
    out.assign(b.begin(), b.end());
  } else {
    auto b = make_record<bbo_record>();
    stamp(b.header, channel::binance_book_ticker);
    b.header.seq = n * 7 + 3;
    b.bid = make_level(book_side::bid, {6'000'000, -2}, {100, -3});
    b.ask = make_level(book_side::ask, {6'000'001, -2}, {200, -3});
    const auto bytes = record_bytes(b);
    out.assign(bytes.begin(), bytes.end());
  }
  return out;
}

void fill(spsc_ring_writer& w, std::size_t from, std::size_t count, std::size_t symbols, slot_id slot) {
  for (std::size_t i = from; i < from + count; ++i) {
    const auto e = event(i, symbols, slot);
    const auto type = static_cast<std::uint32_t>(e[offsetof(record_header, type)]);
    if (!w.try_write(type, e)) {
      std::fprintf(stderr, "merge_bench: feeder ring full at record %zu\n", i);
      std::exit(1);
    }
  }
}

struct result {
  double seconds = 0;
  std::uint64_t taken = 0;
  std::vector<std::int64_t> per_record_ns;
};

std::int64_t pct(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

/// The baseline: the same frames from the same two rings into the output ring, no arbitration
/// (what a merger that trusted one slot blindly would cost).
class plain_copy {
 public:
  plain_copy(const std::string& bus, const config::bus_config& cfg)
      : a_(spsc_ring_reader::open(feeder_ring_name(bus, venue::binance, slot_id::a))),
        b_(spsc_ring_reader::open(feeder_ring_name(bus, venue::binance, slot_id::b))),
        out_(broadcast_ring_writer::create(segment_name(bus, "out"), {cfg.rings.output_bytes, cfg.rings.output_max_frame})) {}
  std::size_t poll_once(std::size_t batch) noexcept { return drain(a_, batch) + drain(b_, batch); }

 private:
  std::size_t drain(spsc_ring_reader& r, std::size_t batch) noexcept {
    return r.poll([this](const spsc_frame& f) { (void)out_.write(f.type, f.payload); }, batch);
  }
  spsc_ring_reader a_, b_;
  broadcast_ring_writer out_;
};

template <class Engine>
result run(Engine& e, std::uint64_t total, std::size_t batch, bool time_each) {
  result r;
  if (time_each) r.per_record_ns.reserve(total);
  const std::int64_t t0 = mono_ns();
  while (r.taken < total) {
    if (time_each) {
      const std::int64_t s = mono_ns();
      const std::size_t n = e.poll_once(batch);
      const std::int64_t d = mono_ns() - s;
      if (n == 1) r.per_record_ns.push_back(d);
      r.taken += n;
    } else {
      r.taken += e.poll_once(batch);
    }
  }
  r.seconds = static_cast<double>(mono_ns() - t0) / 1e9;
  return r;
}

struct merge_engine {
  merge::merger& m;
  std::size_t poll_once(std::size_t batch) noexcept { return m.poll_once(mono_ns(), batch); }
};

void remove_bus(const std::string& bus) {
  for (const auto& n : list_segments(bus)) shm_segment::remove(n);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"merge_bench: mdmerge arbitration throughput and added latency vs a plain ring copy"};
  std::size_t records = 2'000'000, symbols = 4;
  bool quick = false;
  app.add_option("--records", records, "venue events per run (each delivered by both slots)");
  app.add_option("--symbols", symbols, "symbols (1..8), two streams each")->check(CLI::Range(1, 8));
  app.add_flag("--quick", quick, "a short smoke run");
  CLI11_PARSE(app, argc, argv);
  if (quick) records = 200'000;
  const std::string bus = "bench-merge-" + std::to_string(getpid());
  // 136-byte frames for the largest record: room for every record plus slack.
  std::uint64_t ring = 1 << 20;
  while (ring < records * 136 + (1 << 20)) ring <<= 1;
  const config::bus_config cfg = make_config(bus, symbols, ring);

  std::printf("merge_bench: %zu venue events x 2 slots, %zu symbols (trades + BBOs), feeder rings %llu MiB, output %llu MiB\n",
              records, symbols, static_cast<unsigned long long>(ring >> 20),
              static_cast<unsigned long long>(cfg.rings.output_bytes >> 20));

  auto fill_both = [&](std::size_t from, std::size_t count, spsc_ring_writer& a, spsc_ring_writer& b) {
    fill(a, from, count, symbols, slot_id::a);
    fill(b, from, count, symbols, slot_id::b);
  };
  const spsc_ring_geometry g{ring, cfg.rings.feeder_max_frame};
  double copy_rate = 0, merge_rate = 0;
  std::vector<std::int64_t> copy_lat, merge_lat;
  std::uint64_t published = 0, duplicates = 0;
  for (int pass = 0; pass < 2; ++pass) {  // pass 0 warms the pages, pass 1 is reported
    remove_bus(bus);
    {
      auto a = spsc_ring_writer::create(feeder_ring_name(bus, venue::binance, slot_id::a), g);
      auto b = spsc_ring_writer::create(feeder_ring_name(bus, venue::binance, slot_id::b), g);
      fill_both(0, records, a, b);
      plain_copy copy(bus, cfg);
      const result r = run(copy, 2 * records, 256, false);
      copy_rate = static_cast<double>(r.taken) / r.seconds;
      fill(a, records, 100'000, symbols, slot_id::a);  // latency: the first copy's path
      result l = run(copy, 100'000, 1, true);
      copy_lat = std::move(l.per_record_ns);
    }
    remove_bus(bus);
    {
      auto a = spsc_ring_writer::create(feeder_ring_name(bus, venue::binance, slot_id::a), g);
      auto b = spsc_ring_writer::create(feeder_ring_name(bus, venue::binance, slot_id::b), g);
      fill_both(0, records, a, b);
      merge::merger m(cfg, nullptr);
      merge_engine e{m};
      const result r = run(e, 2 * records, 256, false);
      merge_rate = static_cast<double>(r.taken) / r.seconds;
      published = m.arb().stats().published;
      duplicates = m.arb().stats().duplicates;
      fill(a, records, 100'000, symbols, slot_id::a);
      result l = run(e, 100'000, 1, true);
      merge_lat = std::move(l.per_record_ns);
      if (m.arb().stats().gaps != 0) std::printf("merge_bench: unexpected gaps: %s\n", m.summary().c_str());
    }
  }
  remove_bus(bus);
  std::printf("  merged: %llu published, %llu duplicates dropped (expected %zu and %zu)\n",
              static_cast<unsigned long long>(published), static_cast<unsigned long long>(duplicates), records, records);
  std::printf("\n| 2 inputs -> output ring | records in / s | vs plain copy |\n|---|---:|---:|\n");
  std::printf("| plain ring copy (baseline) | %.1f M | 1.00 |\n", copy_rate / 1e6);
  std::printf("| mdmerge engine | %.1f M | %.2f |\n", merge_rate / 1e6, merge_rate / copy_rate);
  const std::int64_t c50 = pct(copy_lat, 0.50), c99 = pct(copy_lat, 0.99);
  const std::int64_t m50 = pct(merge_lat, 0.50), m99 = pct(merge_lat, 0.99);
  std::printf("\n| one record, taken alone (incl. ~2 clock reads) | p50 ns | p99 ns |\n|---|---:|---:|\n");
  std::printf("| plain ring copy (baseline) | %lld | %lld |\n", static_cast<long long>(c50), static_cast<long long>(c99));
  std::printf("| mdmerge engine | %lld | %lld |\n", static_cast<long long>(m50), static_cast<long long>(m99));
  std::printf("| added by arbitration | %lld | %lld |\n", static_cast<long long>(m50 - c50), static_cast<long long>(m99 - c99));
  std::printf("\nmerge throughput %.1f M records/s (target >= 10 M: %s), %.2fx the plain copy\n", merge_rate / 1e6,
              merge_rate >= 10e6 ? "met" : "MISSED", merge_rate / copy_rate);
  return 0;
}
