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
/// * no data: nothing at all received, not even a pong, for no_data_ms → reconnect. A quiet
///   market whose keepalive is answered is a live connection (OKX cuts only when the server
///   sent nothing for 30 s, and its pong counts).
/// * stale stream (stale_watch.hpp): one stream silent far beyond its own usual rate while
///   the connection delivers others → resubscribe that stream (feeder_stale.cpp), never a
///   reconnect. A line that goes silent while answering pings is the supervisor's health
///   rule's (its partner still delivers).
///
/// Resyncs (feeder_resync.cpp): the merger asks for a fresh snapshot of one book stream by
/// bumping its generation in the control block; the feeder serves it by the adapter's
/// resync_plan (Binance: REST snapshot into the ring; OKX: resubscribe for a pushed one).
///
/// Backfill (feeder_backfill.cpp, issue 16): the merger asks for trade ids a hole lost on
/// both slots by writing them into the control block's backfill table; the feeder fetches them
/// page by page from the venue's trade history (adapter backfill_path / parse_backfill) and
/// writes them into its ring, flagged kHeaderBackfilled, where the merger takes them like any
/// record. Ids the venue cannot give end in a gap record (backfill_failed) in the ring.
///
/// The hot path (on_message) reads two clocks, parses into the ring and bumps relaxed
/// counters; it never allocates, throws or makes a system call (log lines are rate-limited).
#include "bus/config/config.hpp"
#include "bus/feeder_block.hpp"
#include "mdbus/doorbell.hpp"
#include "bus/spsc_ring.hpp"
#include "bus/venue_budget.hpp"
#include "feeders/mdfeed/backoff.hpp"
#include "feeders/mdfeed/log_limiter.hpp"
#include "feeders/mdfeed/rest_client.hpp"
#include "feeders/mdfeed/stale_watch.hpp"
#include "feeders/mdfeed/stream_index.hpp"
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
  /// The venue's connection group this process carries (config venue_config::groups; 0..groups-1).
  std::uint32_t group = 0;
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

class feeder final : private ws_events, private rest_events, private snapshot_observer, private commit_observer {
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
  /// Attaches the merger's doorbell when it appears, re-attaches when it was replaced.
  void attend_doorbell(std::int64_t now) noexcept;
  // rest_events, snapshot_observer (feeder_resync.cpp)
  void on_rest_done(std::size_t lane, const rest_result& r) noexcept override;
  void on_snapshot_committed(const book_record& r) noexcept override;
  // commit_observer, stale streams (feeder_stale.cpp)
  void on_record_committed(const record_header& h) noexcept override;
  void build_stale_table();
  void check_stale_streams(std::int64_t now) noexcept;

  void start_connect(std::int64_t now) noexcept;
  void drop(slot_reason why, const char* text, std::int64_t now) noexcept;
  void begin_close(slot_reason why, const char* text, std::int64_t now) noexcept;
  /// A slot-status record into the ring (the merger passes it on to the output ring).
  void write_slot_status(slot_state st, slot_reason why, const char* text) noexcept;
  void request_stop(const char* why, std::int64_t now) noexcept;
  void finish(std::int64_t now) noexcept;
  void check_watchdogs(std::int64_t now) noexcept;
  void poll_control(std::int64_t now) noexcept;
  void take_command(std::uint64_t word, std::int64_t now) noexcept;
  [[nodiscard]] command_result execute(feeder_command c, std::int64_t now) noexcept;
  void set_state(feeder_state s, slot_reason why, const char* text = "") noexcept;
  void count_error(parse_error e, std::string_view detail, std::string_view message, std::int64_t now) noexcept;
  void note_error(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

  // ---- resync (feeder_resync.cpp) ----
  enum class resync_phase : std::uint8_t {
    idle,        ///< nothing asked, or the last request served / given up
    queued,      ///< asked; starts when it can (REST: connection live and a free lane)
    fetching,    ///< REST request in flight on `lane`
    awaiting,    ///< resubscribed (or waiting for the next connection's subscribe): until the venue's snapshot commits
    retry_wait,  ///< the first attempt failed; the retry starts at `at`
  };
  /// One book stream the merger can ask to resync: built at start, never resized.
  struct book_stream {
    subscription sub;
    resync_method method = resync_method::none;
    std::size_t index = kNoResyncSlot;  ///< its slot in the control block's resync table
    std::uint64_t generation = 0;        ///< the request generation last taken
    std::uint64_t serving = 0;           ///< the generation the current attempt answers (for the log)
    resync_phase phase = resync_phase::idle;
    bool again = false;                  ///< a request arrived while one was being served: serve it after
    unsigned attempt = 0;                ///< attempts started for the current request (1, then the retry)
    std::int64_t at = 0;                 ///< retry_wait: retry time; awaiting: deadline (0 = none while no connection)
    std::size_t lane = SIZE_MAX;         ///< fetching: the REST lane
    std::string rest_path;               ///< rest_snapshot: path and query
    std::uint32_t rest_cost = 0;         ///< rest_snapshot: its cost in the venue's REST budget
    unsigned failures = 0;               ///< requests given up in a row: the retry delay doubles with each
    std::int64_t not_before = 0;         ///< after a request was given up, the next one waits until then
    std::vector<std::string> resubscribe;  ///< resubscribe: unsubscribe then subscribe messages
  };
  void build_resync_table();
  void poll_resync(std::int64_t now) noexcept;
  void advance_resyncs(std::int64_t now) noexcept;
  void start_resync(book_stream& b, std::int64_t now) noexcept;
  void resync_served(book_stream& b, std::uint32_t records) noexcept;
  void resync_attempt_failed(book_stream& b, const char* why, std::int64_t now) noexcept;
  void resync_next(book_stream& b) noexcept;
  void set_phase(book_stream& b, resync_phase p) noexcept;
  void resync_on_established(std::int64_t now) noexcept;
  void resync_on_closed() noexcept;

  // ---- backfill (feeder_backfill.cpp) ----
  /// One trade stream the merger can ask to backfill: built at start, never resized.
  struct history_stream {
    subscription sub;
    backfill_plan plan;
    std::size_t index = kNoResyncSlot;  ///< its slot in the control block (the resync index)
    std::uint64_t generation = 0;        ///< the request generation last taken
    bool active = false;                 ///< ids cursor..to still to fetch
    bool fetching = false;               ///< a page request in flight
    std::uint64_t cursor = 0, to = 0;
    std::uint64_t page_from = 0;         ///< the first id the page in flight asked for
    unsigned attempt = 0;                ///< failed attempts at the current page
    std::int64_t at = 0;                 ///< the next attempt not before (monotonic)
    // A newest_first plan (OKX fills after a suspect window): pages go down from cursor (the
    // `after` id, to + 1 at first) to `from`; the fills wait in `staged` (newest first) until
    // then, less the `skip` newest (the aggregated trade that ended the window has them).
    std::uint64_t from = 0, skip = 0;
    /// Reserved to kWindowFills when a request starts, released when it ends: a REST slow path,
    /// and most streams never need it (a feeder of hundreds of instruments holds none at rest).
    std::vector<trade_record> staged;
  };
  /// The most fills one window backfill collects (20 OKX pages); older ones are a gap.
  static constexpr std::size_t kWindowFills = 2000;
  /// Collects a newest_first page's records into history_stream::staged.
  class staging_sink final : public record_sink {
   public:
    std::vector<trade_record>* rows = nullptr;
    /// Room for one more fill, or none (past kWindowFills: the page fails and the backfill ends
    /// with what it has).
    std::span<std::byte> claim(std::size_t bytes) noexcept override {
      if (rows == nullptr || rows->size() >= kWindowFills || rows->size() == rows->capacity() || bytes > sizeof scratch_)
        return {};
      return {reinterpret_cast<std::byte*>(&scratch_), bytes};
    }
    void commit(record_type type, std::size_t used) noexcept override {
      // Only trade records come from a trade history (parse_backfill); anything else is not kept.
      if (type == record_type::trade && used == sizeof scratch_) rows->push_back(scratch_);  // room checked by claim
    }

   private:
    trade_record scratch_{};
  };
  staging_sink staging_;
  /// A newest_first backfill ends: the gap for what it could not fetch (when `why`), the
  /// fills oldest first, then backfill_done.
  void finish_window_backfill(history_stream& t, const char* why) noexcept;
  void on_window_page(history_stream& t, const rest_result& r, std::int64_t now) noexcept;
  /// lane_stream_ values from here up are history streams (index + kHistoryOwner).
  static constexpr std::size_t kHistoryOwner = SIZE_MAX / 2;
  void build_backfill_table();
  void poll_backfill(std::int64_t now) noexcept;
  void advance_backfills(std::int64_t now) noexcept;
  void start_backfill_page(history_stream& t, std::int64_t now) noexcept;
  void on_backfill_done(history_stream& t, const rest_result& r) noexcept;
  void backfill_page_failed(history_stream& t, const char* why, std::int64_t now) noexcept;
  /// The venue cannot give ids first_missing..first_after - 1: counted, logged, and a gap record
  /// (backfill_failed) into the ring says so.
  void write_backfill_gap(history_stream& t, std::uint64_t first_missing, std::uint64_t first_after, const char* why) noexcept;
  /// A gap record from this feeder to the merger about stream t's backfill (never published as it is).
  void write_backfill_record(const history_stream& t, std::uint64_t last_held, std::uint64_t first_after,
                             gap_reason reason) noexcept;
  std::vector<history_stream> histories_;

  // ---- instrument check at start (feeder_instruments.cpp) ----
  /// lane_stream_ value of the lane that carries the instrument-list request.
  static constexpr std::size_t kInstrumentsLane = SIZE_MAX - 1;
  enum class instruments_phase : std::uint8_t { waiting, fetching, done };
  void advance_instruments(std::int64_t now) noexcept;
  void on_instruments_done(const rest_result& r) noexcept;
  void instruments_retry(const std::string& why, std::int64_t now) noexcept;
  void refuse_symbols(const std::vector<std::string>& problems, std::int64_t now) noexcept;
  instruments_phase instruments_ = instruments_phase::waiting;
  std::int64_t instruments_at_ = 0;          ///< next attempt (monotonic)
  unsigned instruments_failures_ = 0;        ///< failed attempts in a row (backoff)
  std::size_t instruments_from_ = 0;   ///< first symbol of the query under way (or next)
  std::size_t instruments_count_ = 0;  ///< symbols in that query
  bool instruments_each_ = false;      ///< the venue refused a list: symbol by symbol from here
  /// Symbols the next query asks for, from instruments_from_: as many as fit in one request.
  [[nodiscard]] std::size_t instruments_batch() const;
  std::vector<std::string> instruments_problems_;
  /// The symbols' reference data from the instrument check, republished every
  /// policy.reference_interval_ms (publish_reference).
  void publish_reference(std::int64_t now) noexcept;
  std::vector<instrument_record> reference_;
  std::int64_t next_reference_ = 0;  ///< monotonic

  config::venue_config venue_;
  std::uint64_t config_id_ = 0;  ///< config::config_identity: stamped in the status block, checked in the control block
  int exit_code_ = kExitOk;
  feeder_options options_;
  std::string name_;  ///< "binance/A" for log lines
  spsc_ring_writer ring_;
  /// The merger's input doorbell (bus/include/mdbus/doorbell.hpp), rung after each message's records;
  /// attached on the tick once the merger has made it, re-attached if it was replaced.
  doorbell_segment bell_;
  std::string bell_name_;
  std::int64_t next_bell_check_ = 0;
  feeder_status_writer status_;
  feeder_control_reader control_;
  std::string control_name_;
  std::string control_path_;  ///< /dev/shm/<name>: a cheap existence check before try_open
  std::unique_ptr<venue_adapter> adapter_;
  /// The venue's REST budget and connection pace, shared by every process of the bus
  /// (bus/venue_budget.hpp): every WebSocket attempt and REST request asks it first.
  venue_budget budget_;
  std::int64_t rest_not_before_ = 0;  ///< the budget said wait: no REST request before this (monotonic)
  ring_sink sink_;
  std::vector<std::string> subscribe_messages_;
  /// Subscribe messages go out one per subscribe_gap_ns_ (half the venue's documented
  /// incoming-message rate: pongs count too; 0: all at once), from the connection's start.
  std::int64_t subscribe_gap_ns_ = 0;
  std::size_t subscribe_sent_ = 0;  ///< of subscribe_messages_, on this connection
  std::int64_t next_subscribe_ = 0;
  /// Sends the subscribe messages that are due; false when they could not be queued (the
  /// connection is dropped).
  bool send_subscriptions(std::int64_t now) noexcept;
  ws_target target_;       ///< the stream host
  ws_target rest_target_;  ///< the REST host (path unused): snapshots, instrument list
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
  std::int64_t last_rx_ = 0;        ///< any frame, pongs included (keepalive, connection watchdog)
  std::int64_t record_now_ = 0;     ///< monotonic time of the message being parsed (stale watch)
  std::int64_t next_stale_check_ = 0;
  std::int64_t ping_sent_ = 0;      ///< keepalive outstanding since; 0 = none
  std::int64_t reconnect_at_ = 0;   ///< backoff end; 0 = no reconnect scheduled
  std::int64_t drain_deadline_ = 0;
  std::int64_t next_control_check_ = 0;

  /// The stale watch's streams: (symbol, channel) in subscription order, and the messages
  /// that resubscribe each one (unsubscribe + subscribe), built at start.
  struct watched_stream {
    subscription sub;
    std::vector<std::string> resubscribe;
  };
  std::vector<watched_stream> watched_;
  stream_index stream_index_;
  stale_watch stale_{0, stale_watch::options{}};

  std::vector<book_stream> books_;
  std::vector<std::size_t> lane_stream_;  ///< REST lane → index in books_ (SIZE_MAX: free)
  std::size_t awaiting_ = 0;              ///< streams in phase awaiting (the snapshot observer is installed while > 0)
  /// Before ws_: lws reports the close of open REST requests while ws_ destroys the context.
  std::unique_ptr<rest_client> rest_;

  std::unique_ptr<ws_client> ws_;  // last: destroyed first, while everything it reports into still lives
};

}  // namespace mdbus::feed
