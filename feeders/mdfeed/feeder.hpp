#pragma once
/// One feeder slot: the connection's state machine between the venue (ws_client), the
/// venue protocol (venue_adapter), the SPSC ring the merger reads, the status block the
/// supervisor reads and the control word it writes. One thread, one event loop.
///
/// Life of a connection: connecting → subscribed (handshake done, subscriptions sent) →
/// live (first record) → down (closed, by the venue, the network, a watchdog or a command)
/// → connecting again after a jittered exponential backoff, unless a disconnect command
/// keeps it down. A stop (command, SIGTERM/SIGINT) drains: what was received is already in
/// the ring, a close frame goes out, the feeder waits drain_timeout_ms for the venue's
/// close and exits 0 with the ring valid for the merger to finish reading.
///
/// Watchdogs, checked on a 10 ms tick from the venue policy:
/// * connect timeout: the handshake must end within connect_timeout_ms;
/// * keepalive: after keepalive_ms without any frame, send the adapter's keepalive text
///   (OKX "ping") or a WebSocket ping (Binance answers pings with pongs); no answer within
///   pong_timeout_ms → reconnect;
/// * no data: no message other than a pong for no_data_ms → reconnect (a stalled line
///   that still answers pings is caught here).
///
/// The hot path (on_message) reads two clocks, parses into the ring and bumps relaxed
/// counters; it never allocates, throws or makes a system call (log lines are rate-limited).
#include "bus/config/config.hpp"
#include "bus/feeder_block.hpp"
#include "bus/spsc_ring.hpp"
#include "feeders/mdfeed/backoff.hpp"
#include "feeders/mdfeed/log_limiter.hpp"
#include "feeders/mdfeed/ring_sink.hpp"
#include "feeders/mdfeed/ws_client.hpp"
#include "feeders/venue_adapter.hpp"

#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mdbus::feed {

struct feeder_options {
  venue venue_id = venue::unknown;
  slot_id slot = slot_id::none;
  /// Start down and wait for a connect command (a supervisor staggering its slots).
  bool start_down = false;
  /// Per-reason spacing of repeated log lines.
  std::int64_t log_interval_ms = 1000;
  /// The process's heap allocation count (alloc_counter.hpp), exported into the status
  /// block; nullptr when the build cannot count (sanitizers).
  std::uint64_t (*allocations)() noexcept = nullptr;
  /// Set by a signal handler: stop gracefully.
  const volatile std::sig_atomic_t* stop_flag = nullptr;
};

/// Exit codes of mdfeed.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  ///< a segment, the TLS context or the adapter could not be set up
inline constexpr int kExitUsage = 2;    ///< bad command line or config

class feeder final : private ws_events {
 public:
  /// Opens (creates or adopts) the ring and the status block and builds the adapter and
  /// the transport. Throws config::config_error for a venue or slot the config does not
  /// have, segment_error / std::runtime_error / std::invalid_argument for set-up failures.
  feeder(const config::bus_config& cfg, const feeder_options& options);
  ~feeder();
  feeder(const feeder&) = delete;
  feeder& operator=(const feeder&) = delete;

  /// The event loop; returns the exit code once stopped.
  int run();

 private:
  enum class intent : std::uint8_t { run, disconnected, stopping };

  // ws_events
  void on_established() noexcept override;
  void on_message(simdjson::padded_string_view data, bool binary, std::int64_t first_byte_ns) noexcept override;
  void on_oversize(std::uint64_t bytes) noexcept override;
  void on_pong() noexcept override;
  void on_closed(const close_info& info) noexcept override;
  void on_tick() noexcept override;

  void start_connect(std::int64_t now) noexcept;
  void drop(slot_reason why, const char* text, std::int64_t now) noexcept;
  void begin_close(slot_reason why, const char* text, std::int64_t now) noexcept;
  void request_stop(const char* why, std::int64_t now) noexcept;
  void finish(std::int64_t now) noexcept;
  void check_watchdogs(std::int64_t now) noexcept;
  void poll_control(std::int64_t now) noexcept;
  [[nodiscard]] command_result execute(feeder_command c, std::int64_t now) noexcept;
  void set_state(feeder_state s, slot_reason why, const char* text = "") noexcept;
  void count_error(parse_error e, std::string_view detail, std::string_view message, std::int64_t now) noexcept;
  void note_error(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

  config::venue_config venue_;
  feeder_options options_;
  std::string name_;  ///< "binance/A" for log lines
  spsc_ring_writer ring_;
  feeder_status_writer status_;
  feeder_control_reader control_;
  std::string control_name_;
  std::string control_path_;  ///< /dev/shm/<name>: a cheap existence check before try_open
  std::unique_ptr<venue_adapter> adapter_;
  ring_sink sink_;
  std::vector<std::string> subscribe_messages_;
  ws_target target_;
  log_limiter log_;
  backoff backoff_;

  intent intent_ = intent::run;
  bool reconnect_now_ = false;
  bool finished_ = false;
  bool stop_acked_pending_ = false;
  std::uint64_t stop_word_ = 0;
  std::uint64_t connection_ = 0;
  std::uint64_t last_command_word_ = 0;
  slot_reason close_reason_ = slot_reason::none;  ///< why we are closing or dropping
  char close_text_[192] = {};

  std::int64_t attempt_start_ = 0;  // CLOCK_MONOTONIC ns from here on
  std::int64_t live_since_ = 0;     ///< 0 while not live
  std::int64_t last_rx_ = 0;        ///< any frame, pongs included (keepalive)
  std::int64_t last_data_ = 0;      ///< any message but a pong (no-data watchdog)
  std::int64_t ping_sent_ = 0;      ///< keepalive outstanding since; 0 = none
  std::int64_t reconnect_at_ = 0;   ///< backoff end; 0 = no reconnect scheduled
  std::int64_t drain_deadline_ = 0;
  std::int64_t next_control_check_ = 0;

  std::unique_ptr<ws_client> ws_;  // last: destroyed first, while everything it reports into still lives
};

}  // namespace mdbus::feed
