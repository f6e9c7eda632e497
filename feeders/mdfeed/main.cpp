// mdfeed — one feeder slot: a venue WebSocket connection normalised into the slot's SPSC ring.
//   mdfeed --config config/sim.json --venue binance --slot A
// See README.md in this folder for the options, the segments and the exit codes.
#include "bus/sched_slice.hpp"
#include "bus/stop_signal.hpp"
#include "feeders/mdfeed/alloc_counter.hpp"
#include "feeders/mdfeed/feeder.hpp"
#include "feeders/mdfeed/tls_allocator.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <cstdio>
#include <unistd.h>

int main(int argc, char** argv) {
  using namespace mdbus;
  // Before anything can touch OpenSSL: its per-read allocations come from a free list.
  const bool tls_pool = feed::install_tls_allocator();
  CLI::App app{"mdfeed: one feeder slot of mdbus (a venue WebSocket into the slot's shared-memory ring)"};
  std::string config_path, venue_name, slot_name;
  bool start_down = false;
  std::int64_t log_interval_ms = 1000;
  app.add_option("-c,--config", config_path, "JSON config file (config/sim.json, config/live.json)")->required();
  app.add_option("--venue", venue_name, "venue to connect to: binance or okx")->required();
  app.add_option("--slot", slot_name, "connection slot: A or B")->required();
  std::uint32_t group = 0;
  app.add_option("--group", group, "the venue's connection group this process carries (0 .. groups-1; default 0)");
  app.add_flag("--start-down", start_down, "start disconnected and wait for a connect command on the control word");
  app.add_option("--log-interval-ms", log_interval_ms, "minimum spacing of repeated log lines of one kind (1000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{3'600'000}));
  CLI11_PARSE(app, argc, argv);

  feed::feeder_options options;
  const auto v = venue_from_string(venue_name);
  if (!v) {
    std::fprintf(stderr, "mdfeed: --venue '%s': not a venue (binance, okx)\n", venue_name.c_str());
    return feed::kExitUsage;
  }
  options.venue_id = *v;
  options.slot = config::slot_from_string(slot_name);
  if (options.slot == slot_id::none) {
    std::fprintf(stderr, "mdfeed: --slot '%s': must be A or B\n", slot_name.c_str());
    return feed::kExitUsage;
  }
  options.group = group;
  options.start_down = start_down;
  options.log_interval_ms = log_interval_ms;
  options.allocations = feed::allocation_counting() ? &feed::process_allocations : nullptr;
  options.stop_flag = &stop_requested;

  config::bus_config cfg;
  try {
    cfg = config::load_config(config_path);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "mdfeed: %s\n", e.what());
    return feed::kExitUsage;
  }
  const config::venue_config* vc = cfg.find(*v);
  if (vc == nullptr) {
    std::fprintf(stderr, "mdfeed: %s: venues.%s: not configured\n", cfg.source.c_str(), venue_name.c_str());
    return feed::kExitUsage;
  }
  if (!vc->has_slot(options.slot)) {
    std::fprintf(stderr, "mdfeed: %s: venues.%s.slots: has no slot %s\n", cfg.source.c_str(), venue_name.c_str(), slot_name.c_str());
    return feed::kExitUsage;
  }
  if (group >= vc->connections()) {
    // groups x routes (bus/config/config.hpp venue_config::connections)
    std::fprintf(stderr, "mdfeed: %s: venues.%s: %u connection group(s), no group %u\n", cfg.source.c_str(), venue_name.c_str(),
                 vc->connections(), group);
    return feed::kExitUsage;
  }
  if (vc->ep.tls && ::access(vc->ep.ca_file.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "mdfeed: %s: venues.%s.endpoint.ca_file: cannot read %s\n", cfg.source.c_str(), venue_name.c_str(),
                 vc->ep.ca_file.c_str());
    return feed::kExitUsage;
  }

  if (!tls_pool && feed::allocation_counting())
    std::fprintf(stderr, "mdfeed: OpenSSL had allocated before main(): its TLS 1.3 reads will call malloc\n");
  install_stop_signals();
  if (cfg.scheduling.wake_slice_us > 0) {
    const wake_slice_outcome ws = request_wake_slice(0, cfg.scheduling.wake_slice_us);
    if (ws.applied)
      std::printf("mdfeed %s/%s: scheduler slice %lld us (scheduling.wake_slice_us)\n", venue_name.c_str(), slot_name.c_str(),
                  static_cast<long long>(cfg.scheduling.wake_slice_us));
    else
      std::fprintf(stderr, "mdfeed %s/%s: scheduling.wake_slice_us %lld not applied: %s\n", venue_name.c_str(), slot_name.c_str(),
                   static_cast<long long>(cfg.scheduling.wake_slice_us), ws.problem.c_str());
  }
  try {
    feed::feeder f(cfg, options);
    return f.run();
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "mdfeed: %s\n", e.what());
    return feed::kExitUsage;
  } catch (const std::invalid_argument& e) {  // a symbol or channel the venue adapter refuses
    std::fprintf(stderr, "mdfeed: %s: %s\n", cfg.source.c_str(), e.what());
    return feed::kExitUsage;
  } catch (const segment_owner_error& e) {  // another user took one of our segment names first
    std::fprintf(stderr, "mdfeed %s/%s: %s\n", venue_name.c_str(), slot_name.c_str(), e.what());
    return feed::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdfeed %s/%s: %s\n", venue_name.c_str(), slot_name.c_str(), e.what());
    return feed::kExitRuntime;
  }
}
