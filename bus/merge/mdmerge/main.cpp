// mdmerge — the bus's merger: every feeder ring in, one arbitrated output ring out.
//   mdmerge --config config/sim.json [--idle wait|spin|backoff]
// See bus/merge/README.md for what it does, its segments, counters and exit codes.
#include "bus/clock.hpp"
#include "bus/config/reload.hpp"
#include "bus/merge/merger.hpp"
#include "bus/sched_slice.hpp"
#include "bus/stop_signal.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <cstdio>
#include <ctime>

namespace {

constexpr int kExitUsage = 2;    // bad command line or config, or a segment of another user: a restart would refuse again
constexpr int kExitRuntime = 1;  // could not set up the bus (e.g. another mdmerge owns the output ring)

/// SIGHUP: read the config file again and apply what changed (the venues' symbols; anything
/// else is refused and the merger runs on as it was). One line either way.
void reload(mdbus::merge::merger& m, const std::string& path, std::string& running_text) {
  try {
    const std::string text = mdbus::config::read_config_text(path);
    if (const std::string why = mdbus::config::reload_refusal(running_text, text); !why.empty()) {
      std::fprintf(stderr, "mdmerge: reload of %s refused: %s\n", path.c_str(), why.c_str());
      return;
    }
    const std::string what = m.reload(mdbus::config::parse_config(text, path, mdbus::config::config_dir(path)));
    running_text = text;
    std::printf("mdmerge: reloaded %s: %s\n", path.c_str(), what.c_str());
    std::fflush(stdout);
  } catch (const std::exception& e) {  // config_error; a counter segment's error is logged inside
    std::fprintf(stderr, "mdmerge: reload of %s refused: %s\n", path.c_str(), e.what());
  }
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mdbus;
  CLI::App app{"mdmerge: hot-hot arbitration of an mdbus bus's feeder rings into its output ring"};
  std::string config_path, idle;
  app.add_option("-c,--config", config_path, "JSON config file (config/sim.json, config/live.json)")->required();
  app.add_option("--idle", idle, "override merge.idle: wait (sleep until a feeder rings), spin (busy-poll) or backoff (timed pauses)")
      ->check(CLI::IsMember({"wait", "spin", "backoff"}));
  CLI11_PARSE(app, argc, argv);
  install_reload_signal();

  config::bus_config cfg;
  std::string running_text;  // what a reload compares against
  try {
    running_text = config::read_config_text(config_path);
    cfg = config::parse_config(running_text, config_path, config::config_dir(config_path));
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "mdmerge: %s\n", e.what());
    return kExitUsage;
  }
  if (!idle.empty()) (void)config::idle_mode_from_string(idle, cfg.merge.idle);
  install_stop_signals();

  std::unique_ptr<merge::merger> m;
  try {
    m = std::make_unique<merge::merger>(cfg);
  } catch (const segment_owner_error& e) {
    // Another user created one of the bus's segments first: refused, and the supervisor does
    // not restart an exit 2 (no crash loop against a name that is not ours).
    std::fprintf(stderr, "mdmerge: bus %s: %s\n", cfg.bus.c_str(), e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdmerge: bus %s: %s\n", cfg.bus.c_str(), e.what());
    return kExitRuntime;
  }
  std::printf("mdmerge: bus %s: output %s, %zu input ring(s) configured (%zu attached), %zu streams, %llu records read back, idle %s\n",
              cfg.bus.c_str(), m->output_name().c_str(), m->inputs_configured(), m->inputs_attached(),
              m->arb().stream_count(), static_cast<unsigned long long>(m->primed()),
              std::string(config::to_string(cfg.merge.idle)).c_str());
  if (cfg.scheduling.wake_slice_us > 0) {
    const wake_slice_outcome ws = request_wake_slice(0, cfg.scheduling.wake_slice_us);
    if (ws.applied)
      std::printf("mdmerge: bus %s: scheduler slice %lld us (scheduling.wake_slice_us)\n", cfg.bus.c_str(),
                  static_cast<long long>(cfg.scheduling.wake_slice_us));
    else
      std::fprintf(stderr, "mdmerge: bus %s: scheduling.wake_slice_us %lld not applied: %s\n", cfg.bus.c_str(),
                   static_cast<long long>(cfg.scheduling.wake_slice_us), ws.problem.c_str());
  }
  std::printf("MDMERGE_READY {\"bus\":\"%s\",\"output\":\"%s\",\"primed\":%llu}\n", cfg.bus.c_str(),
              m->output_name().c_str(), static_cast<unsigned long long>(m->primed()));
  std::fflush(stdout);

  constexpr std::int64_t kHousekeepingNs = 1'000'000;  // 1 ms
  // wait: the longest sleep on the doorbell, so the heartbeat (supervisor limit >= 100 ms)
  // and the periodic attach / counters run while no feeder rings.
  constexpr std::int64_t kMaxDoorbellSleepNs = 20'000'000;
  const config::idle_mode mode = cfg.merge.idle;
  const std::int64_t max_sleep_ns = cfg.merge.idle_sleep_max_us * 1000;
  const std::int64_t spin_ns = cfg.merge.idle_spin_us * 1000;
  doorbell_line& bell = m->input_doorbell();
  std::int64_t sleep_ns = 0;
  std::uint32_t idle_passes = 0;
  std::int64_t idle_since = 0;
  std::int64_t next_housekeeping = 0;
  while (stop_requested == 0) {
    if (reload_requested != 0) {
      reload_requested = 0;
      reload(*m, config_path, running_text);
    }
    const std::int64_t now = mono_ns();
    const std::size_t n = m->poll_once(now);
    if (now >= next_housekeeping) {
      next_housekeeping = now + kHousekeepingNs;
      m->housekeeping(now);
    }
    if (n > 0) {
      idle_passes = 0;
      sleep_ns = 0;
      continue;
    }
    if (idle_passes++ == 0) idle_since = now;
    if (mode == config::idle_mode::spin || (mode == config::idle_mode::backoff && idle_passes < 256) ||
        (mode == config::idle_mode::wait && now - idle_since < spin_ns)) {
      cpu_relax();
      continue;
    }
    const std::int64_t until_deadline = m->arb().next_deadline() - now;
    if (mode == config::idle_mode::wait) {
      // Announce, look once more (a feeder may have published after the last pass and seen
      // no sleeper), and only then sleep: doorbell.hpp.
      const std::int64_t until_housekeeping = next_housekeeping + kMaxDoorbellSleepNs - kHousekeepingNs - now;
      (void)doorbell_wait(bell, kMergerSleeperBit, std::max<std::int64_t>(1'000, std::min(until_deadline, until_housekeeping)),
                          [&] { return m->poll_once(mono_ns()) > 0; });
      idle_passes = 0;  // found something or woken: spin again before the next sleep
      continue;
    }
    // backoff: pauses double from 10 µs up to the configured maximum while idle.
    sleep_ns = sleep_ns == 0 ? 10'000 : std::min(sleep_ns * 2, max_sleep_ns);
    const std::int64_t pause = std::max<std::int64_t>(1'000, std::min(sleep_ns, until_deadline));
    timespec ts{static_cast<time_t>(pause / 1'000'000'000), static_cast<long>(pause % 1'000'000'000)};
    nanosleep(&ts, nullptr);
  }
  m->housekeeping(mono_ns());
  std::printf("mdmerge: stopped: %s\n", m->summary().c_str());
  return 0;
}
