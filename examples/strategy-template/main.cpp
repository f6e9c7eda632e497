// strategy — the smallest useful strategy on mdbus, built out of tree against an installed
// mdbus (find_package(mdbus), target mdbus::consumer). It maps a bus's output ring and keeps,
// per venue and symbol, the trade count, the last price and the volume-weighted average
// price, and the best bid/ask from BBO records; gaps (the bus's word that something was lost)
// are counted, never hidden; when the bus is started anew it maps the new ring. It stops after
// --records records or --seconds seconds, or on Ctrl-C, and prints one line per symbol and a
// summary line.
//
//   strategy --bus sim [--records N] [--seconds S] [--venue okx]
#include <mdbus/consumer.hpp>
#include <mdbus/records.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct symbol_state {
  std::uint64_t trades = 0;
  double notional = 0, volume = 0;  // for the VWAP (display only: the records' decimals are exact)
  mdbus::decimal last_px{};
  mdbus::decimal bid{}, ask{};
  bool has_bbo = false;
};

int usage(const char* why) {
  std::fprintf(stderr, "strategy: %s\nusage: strategy --bus NAME [--records N] [--seconds S] [--venue V]\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bus, venue_name;
  std::uint64_t max_records = 0;  // 0: no limit
  double seconds = 0;             // 0: no limit
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf("usage: strategy --bus NAME [--records N] [--seconds S] [--venue V]\n");
      return 0;
    }
    if (i + 1 >= argc) return usage(("missing value after " + a).c_str());
    const char* v = argv[++i];
    if (a == "--bus") bus = v;
    else if (a == "--records") max_records = std::strtoull(v, nullptr, 10);
    else if (a == "--seconds") seconds = std::strtod(v, nullptr);
    else if (a == "--venue") venue_name = v;
    else return usage(("unknown option " + a).c_str());
  }
  if (bus.empty()) return usage("--bus is required");

  mdbus::consumer_options opt;
  opt.bus = bus;
  opt.reader_name = "strategy";
  opt.open_wait_ms = 10'000;  // the bus may still be starting
  try {
    if (!venue_name.empty()) opt.filter = mdbus::record_filter{}.venue_name(venue_name);
  } catch (const std::invalid_argument& e) {
    return usage(e.what());
  }
  mdbus::consumer c;
  try {
    c = mdbus::consumer::open(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strategy: %s\n", e.what());
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::printf("strategy: reading mdbus.%s.out\n", bus.c_str());
  std::fflush(stdout);

  std::map<std::pair<std::string, std::string>, symbol_state> symbols;
  std::uint64_t records = 0, gaps = 0, laps = 0, books = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  constexpr std::int64_t kSlice = 100'000'000;  // wake every 100 ms to look at the stop flag and the clock
  while (g_stop == 0 && (max_records == 0 || records < max_records) &&
         (seconds <= 0 || std::chrono::steady_clock::now() < deadline)) {
    const mdbus::poll_result r = c.wait(kSlice);
    if (r.status == mdbus::poll_status::empty) {
      // Quiet for a while: is the bus still there? A merger restarted by the supervisor adopts
      // this same ring (reading just goes on); a bus started anew (its segments removed and made
      // again) has a new ring under the same name, which we must map instead.
      if (c.segment().replaced_by_name()) {
        std::fprintf(stderr, "strategy: mdbus.%s.out was made anew (the bus restarted): mapping the new ring\n", bus.c_str());
        try {
          c = mdbus::consumer::open(opt);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "strategy: %s\n", e.what());
          return 1;
        }
      }
      continue;
    }
    if (r.status == mdbus::poll_status::lapped) {
      ++laps;
      std::fprintf(stderr, "strategy: fell a ring behind: %llu records lost to this reader\n",
                   static_cast<unsigned long long>(r.missed_frames));
      continue;
    }
    if (r.status != mdbus::poll_status::record) continue;
    ++records;
    const mdbus::record_header& h = r.record.header();
    auto& s = symbols[{std::string(mdbus::to_string(h.venue_id)), std::string(h.symbol_view())}];
    if (auto t = r.record.trade()) {
      ++s.trades;
      s.last_px = t->px();
      s.notional += mdbus::to_double(t->px()) * mdbus::to_double(t->qty());
      s.volume += mdbus::to_double(t->qty());
    } else if (auto b = r.record.bbo()) {
      s.bid = b->bid.px();
      s.ask = b->ask.px();
      s.has_bbo = true;
    } else if (r.record.gap()) {
      ++gaps;
      std::printf("strategy: gap: %s\n", mdbus::format_record(r.record).c_str());
    } else if (r.record.book()) {
      ++books;
    }
  }
  for (const auto& [key, s] : symbols) {
    if (key.second.empty()) continue;  // records of a connection, not of an instrument
    std::printf("%-12s %-16s trades %-6llu last %-12s vwap %-14.6f bid %-12s ask %s\n", key.first.c_str(), key.second.c_str(),
                static_cast<unsigned long long>(s.trades), mdbus::to_string(s.last_px).c_str(),
                s.volume > 0 ? s.notional / s.volume : 0.0, s.has_bbo ? mdbus::to_string(s.bid).c_str() : "-",
                s.has_bbo ? mdbus::to_string(s.ask).c_str() : "-");
  }
  std::printf("strategy: %llu records (books %llu), %llu gaps, %llu laps\n", static_cast<unsigned long long>(records),
              static_cast<unsigned long long>(books), static_cast<unsigned long long>(gaps),
              static_cast<unsigned long long>(laps));
  return 0;
}
