// The feeder's per-record cost of the per-stream staleness watchdog: every record committed
// to the ring is credited to its stream (stream_index::of: the symbol hashed, plus
// stale_watch::on_record: an EWMA update). Baseline in the same run: copying the record's
// 80-byte header out, which ring_sink::commit does for the observer anyway. Prints ns/record
// for both and their ratio (machines are noisy: the ratio is the figure to compare).
//   build/bench/stream_watch_bench [--records N] [--symbols S]
#include "mdbus/records.hpp"
#include "feeders/mdfeed/stale_watch.hpp"
#include "feeders/mdfeed/stream_index.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace mdbus;

namespace {

/// Best of 5 passes, ns per record.
template <class F>
double best_ns(std::size_t n, F&& f) {
  double best = 1e30;
  for (int pass = 0; pass < 5; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n);
    best = std::min(best, ns);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t records = 10'000'000;
  std::size_t nsym = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--records") records = std::stoul(argv[i + 1]);
    else if (a == "--symbols") nsym = std::stoul(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: stream_watch_bench [--records N] [--symbols S]\n");
      return 2;
    }
  }

  const std::vector<channel> chans = {channel::binance_trade, channel::binance_agg_trade, channel::binance_book_ticker,
                                      channel::binance_depth, channel::binance_depth_partial};
  std::vector<std::string> syms;
  for (std::size_t i = 0; i < nsym; ++i) syms.push_back("SYM" + std::to_string(i) + "USDT");
  // The records a feeder commits, round-robin over the configured streams.
  std::vector<record_header> headers;
  for (std::size_t i = 0; i < 4096; ++i) {
    record_header h{};
    h.venue_id = venue::binance;
    h.channel_id = chans[i % chans.size()];
    h.set_symbol(syms[(i / chans.size()) % syms.size()]);
    headers.push_back(h);
  }
  feed::stream_index index(syms, chans);
  feed::stale_watch watch(index.size(), feed::stale_watch::options{});
  watch.connection_started(1);

  volatile std::uint64_t sink = 0;
  const double base = best_ns(records, [&] {
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < records; ++i) {
      record_header h;
      std::memcpy(&h, &headers[i & 4095], sizeof h);
      acc += static_cast<std::uint64_t>(h.channel_id);
    }
    sink = sink + acc;
  });
  std::int64_t now = 1'000'000;
  const double watched = best_ns(records, [&] {
    for (std::size_t i = 0; i < records; ++i) {
      record_header h;
      std::memcpy(&h, &headers[i & 4095], sizeof h);
      watch.on_record(index.of(h), now);
      now += 1000;
    }
  });
  std::printf("stream_watch_bench: %zu records/pass, %zu symbols x %zu channels (best of 5)\n", records, nsym, chans.size());
  std::printf("  header copy (baseline)              %7.2f ns/record\n", base);
  std::printf("  header copy + stream_index + watch  %7.2f ns/record\n", watched);
  std::printf("  added by the stale watch            %7.2f ns/record   ratio %.2fx\n", watched - base, watched / base);
  return sink == 42 ? 1 : 0;
}
