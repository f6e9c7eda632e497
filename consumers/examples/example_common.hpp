#pragma once
/// What every example strategy shares: its common command-line options (bus, ring, venue and
/// symbol filters, interval, duration, start position, drain, reader name), opening the
/// consumer with one-line errors and the examples' exit codes, and the Ctrl-C stop flag.
#include "mdbus/consumer.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace mdbus::examples {

inline constexpr int kExitBadOption = 2;
inline constexpr int kExitCannotOpen = 3;

/// Set by SIGINT/SIGTERM once install_stop_handlers() ran; the examples' loops check it.
inline volatile std::sig_atomic_t g_stop = 0;

inline void install_stop_handlers() {
  auto on_signal = [](int) { g_stop = 1; };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

struct common_options {
  consumer_options consumer;
  std::vector<std::string> venues, symbols;
  double interval_s = 1;
  double duration_s = 0;
  bool oldest = false;
  bool drain = false;
};

/// -b/--bus, --ring, --venue, --symbol, -i/--interval (default o.interval_s), -d/--duration,
/// --oldest, --drain, --name (the name `shmcat info` shows for this reader).
inline void add_common_options(CLI::App& app, common_options& o, const char* interval_help) {
  app.add_option("-b,--bus", o.consumer.bus, "bus name")->required();
  app.add_option("--ring", o.consumer.object, "output ring object")->capture_default_str();
  app.add_option("--venue", o.venues, "only these venues (binance, okx)");
  app.add_option("--symbol", o.symbols, "only these symbols, as the venue spells them");
  app.add_option("-i,--interval", o.interval_s, interval_help)->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("-d,--duration", o.duration_s, "stop after this many seconds (0: until Ctrl-C)");
  app.add_flag("--oldest", o.oldest, "start at the oldest record the ring holds (default: the newest)");
  app.add_flag("--drain", o.drain, "stop as soon as the ring has nothing new");
  app.add_option("--name", o.consumer.reader_name, "name in the ring's reader table (default: the program's)");
}

/// Applies --venue/--symbol and `more_filters(record_filter&)` (which may throw
/// std::invalid_argument for a bad value) and the start position, then opens the consumer.
/// Returns 0, or the exit code after printing "<program>: <reason>" on stderr.
template <class MoreFilters>
int open_consumer(const char* program, common_options& o, consumer& out, MoreFilters&& more_filters) {
  try {
    for (const auto& v : o.venues) o.consumer.filter.venue_name(v);
    for (const auto& s : o.symbols) o.consumer.filter.symbol(s);
    more_filters(o.consumer.filter);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return kExitBadOption;
  }
  o.consumer.start = o.oldest ? start_position::oldest : start_position::newest;
  try {
    out = consumer::open(o.consumer);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return kExitCannotOpen;
  }
  return 0;
}

}  // namespace mdbus::examples
