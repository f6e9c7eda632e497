#pragma once
/// The one JSON configuration every mdbus process reads (ARCHITECTURE.md, "Configuration"): bus
/// name, segment mode, ring sizes, and per venue the endpoint, symbols, channels, slots and
/// connection policy. Every field is validated on load; an error is one line naming the file
/// and the field (`config/sim.json: venues.okx.channels[2]: unknown OKX channel "bookz" (known: trades, tickers, bbo-tbt, books, books5)`).
/// Unknown keys are errors, so a typo never silently falls back to a default.
///
/// Loading allocates and throws: a set-up path, never the hot path.
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <sys/types.h>

namespace mdbus::config {

/// A configuration problem. what() is one line: "<file>: <field path>: <problem>".
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where a venue's WebSocket (and REST) server is.
struct endpoint {
  std::string host;         ///< address to connect to (name or IP)
  std::uint16_t port = 0;
  bool tls = true;          ///< wss:// and https://; certificate verification is always on
  /// CA bundle that verifies the server certificate. Relative paths are resolved against the
  /// config file's directory. Default: the system bundle.
  std::string ca_file;
  /// Name sent in SNI and the Host header and checked against the certificate; default: host.
  std::string server_name;
};

/// One configured channel: the bus channel id plus the venue flavour (Binance "100ms" for
/// depth@100ms, "20@100ms" for depth20@100ms; empty otherwise), as feed::subscription wants.
struct channel_spec {
  channel id = channel::unknown;
  std::string variant;
  std::string name;  ///< as written in the file ("depth20@100ms", "books")
};

/// Per-venue connection policy. Times in milliseconds; mdfeed uses keepalive, pong timeout,
/// no-data watchdog, backoff, connect and drain timeouts, and message size; the supervisor
/// uses the age and rotation fields; stale_stream_ms is the per-symbol watchdog's.
struct venue_policy {
  std::int64_t max_age_ms = 86'400'000;     ///< venue's connection age limit (0: none)
  std::int64_t rotate_margin_ms = 300'000;  ///< rotate this long before max_age
  std::int64_t keepalive_ms = 25'000;       ///< send the keepalive after this much silence
  std::int64_t pong_timeout_ms = 10'000;    ///< reconnect when the keepalive is not answered in time
  std::int64_t no_data_ms = 30'000;         ///< reconnect when no message arrived for this long
  std::int64_t stale_stream_ms = 60'000;    ///< one stream silent this long on a busy connection: stale
  std::int64_t reconnect_min_ms = 250;      ///< first backoff delay
  std::int64_t reconnect_max_ms = 30'000;   ///< backoff cap
  std::int64_t connect_timeout_ms = 10'000; ///< TCP + TLS + WebSocket handshake must finish in this
  std::int64_t drain_timeout_ms = 2'000;    ///< graceful close waits this long for the venue's close
  std::uint64_t max_message_bytes = 1 << 20;  ///< largest WebSocket message accepted (reassembly buffer)
  /// The feeder republishes each symbol's instrument record (reference data) this often (0: never).
  std::int64_t reference_interval_ms = 10'000;
};

struct venue_config {
  venue id = venue::unknown;
  endpoint ep;       ///< the stream host (WebSocket)
  /// The REST host (book snapshots, instrument list). Never the stream host's name by
  /// default: the venues' stream hosts serve no REST (feeders/CONFORMANCE.md "Hosts and REST").
  endpoint rest_ep;
  std::vector<std::string> symbols;  ///< venue spelling: "BTCUSDT", "BTC-USDT"
  std::vector<channel_spec> channels;
  std::vector<slot_id> slots;  ///< "A" → slot_id::a, "B" → slot_id::b
  venue_policy policy;
  /// Symbol groups: the venue's symbols are split into this many groups, so each connection
  /// stays inside the venue's limits. A symbol's group is group_of(symbol): a hash of its
  /// name, so adding or removing a symbol never moves another one (changing `groups` does).
  std::uint32_t groups = 1;
  /// The stream routes (URL paths) the channels are served on, in the order the channels
  /// first name them; one "" for a venue with one path for all. One connection serves one
  /// route (Binance USD-M: /public for depth and bookTicker, /market for trades and
  /// markPrice, since 2026-04-23: change notice "Base URL Split & Migration", 2026-03-06),
  /// so each route is a connection of its own.
  std::vector<std::string> routes{""};
  /// In a connection group's view (group_view()): which connection group this is, its
  /// symbols and its route's channels only. In the whole venue's section: 0, everything.
  std::uint32_t group = 0;

  [[nodiscard]] bool has_slot(slot_id s) const noexcept;
  /// The symbol group of `symbol` (0 .. groups-1). Stable: depends on the name and `groups` only.
  [[nodiscard]] std::uint32_t group_of(std::string_view symbol) const noexcept;
  /// Connection groups: `groups` symbol groups on each route, each its own slot pair (one
  /// mdfeed process per connection group and slot). Group g carries symbol group
  /// g % groups on route routes[g / groups]: with one route, the symbol groups themselves.
  [[nodiscard]] std::uint32_t connections() const noexcept {
    return groups * static_cast<std::uint32_t>(routes.empty() ? 1 : routes.size());
  }
  /// The connection group that carries `ch` of `symbol`.
  [[nodiscard]] std::uint32_t connection_of(std::string_view symbol, channel ch) const noexcept;
  /// Whether the venue serves `ch` for `symbol` (OKX funding-rate: perpetual swaps only, OKX
  /// "Funding rate channel", 2026-12). A section's channels apply to the symbols that take
  /// them; a channel none takes is refused.
  [[nodiscard]] bool carries(std::string_view symbol, channel ch) const;
};

/// Connection group `g` of a venue's section as a section of its own: its symbol group's
/// symbols (in config order) and its route's channels, `group` = g, everything else the same.
/// What one mdfeed process runs, and what its control block and resync table are laid out
/// by. `g` < v.connections().
[[nodiscard]] venue_config group_view(const venue_config& v, std::uint32_t g);

/// Most groups a venue section may ask for.
inline constexpr std::uint32_t kMaxGroups = 1024;

struct ring_sizes {
  std::uint64_t feeder_bytes = 4 << 20;     ///< each feeder's SPSC ring (power of two)
  std::uint64_t feeder_max_frame = 65536;   ///< largest frame a feeder writes
  std::uint64_t output_bytes = 64 << 20;    ///< the merger's broadcast ring (power of two)
  std::uint64_t output_max_frame = 65536;
};

/// How the merger waits for input.
enum class idle_mode : std::uint8_t {
  spin,     ///< busy-poll: lowest latency on a core of its own, one core at 100 %
  backoff,  ///< spin briefly, then sleep with growing pauses up to idle_sleep_max_us: low CPU
  wait,     ///< poll for idle_spin_us, then sleep on the input doorbell until a feeder rings
};
[[nodiscard]] std::string_view to_string(idle_mode m) noexcept;
/// "spin", "backoff", "wait" → `out`; false for anything else.
[[nodiscard]] bool idle_mode_from_string(std::string_view s, idle_mode& out) noexcept;

/// The merger's settings (section "merge", every field optional).
struct merge_settings {
  std::int64_t hole_fill_ms = 3;         ///< how long a hole on one slot waits for the other
  std::int64_t resync_retry_ms = 2'000;  ///< a book waiting for its snapshot asks again this often
  /// Backfill (issue 16): how long a trade stream's hole waits for the venue's trade history
  /// after hole_fill_ms (0: no backfill, the hole is a gap record at once). Only that stream waits.
  std::int64_t backfill_bound_ms = 2'000;
  idle_mode idle = idle_mode::wait;
  std::int64_t idle_sleep_max_us = 1'000;  ///< backoff: longest pause between polls
  std::int64_t idle_spin_us = 5;           ///< wait: how long to poll before sleeping
  std::int64_t hold_bytes_per_stream = 256 * 1024;  ///< room for records behind a hole, per stream
  std::int64_t hold_records_per_stream = 1024;
};

/// The supervisor's settings (section "supervisor", every field optional).
struct supervisor_settings {
  std::string control_socket;  ///< unix socket for mdctl; default `<runtime dir>/<bus>.ctl` (bus/runtime_dir.hpp; filled by the loader)
  int metrics_port = -1;       ///< Prometheus /metrics on 127.0.0.1: -1 off, 0 any free port, else the port
  std::int64_t restart_backoff_min_ms = 200;    ///< second restart of a process after this; the first is immediate
  std::int64_t restart_backoff_max_ms = 10'000;  ///< doubling up to this
  std::int64_t heartbeat_timeout_ms = 5'000;    ///< a child whose heartbeat is older is hung: killed and restarted
  std::int64_t crash_loop_restarts = 5;         ///< this many restarts within crash_loop_window_ms is a crash loop
  std::int64_t crash_loop_window_ms = 60'000;
  /// A live slot whose message rate stays below health_min_rate_percent of its partner's for
  /// health_window_ms (while the partner gets at least health_min_partner_rate msgs/s) is unhealthy: rotated.
  std::int64_t health_window_ms = 3'000;
  std::int64_t health_min_rate_percent = 10;
  std::int64_t health_min_partner_rate = 20;
  /// A planned rotation waits for its partner to be alive, live, delivering and in step
  /// (rotation_gate.hpp); a partner that is all but in step on every stream is waited for
  /// this long at most, then the rotation goes. A dead or not-live partner is waited for.
  std::int64_t rotation_sync_wait_ms = 10'000;
};

/// How the bus's own processes ask to be scheduled (section "scheduling", every field optional).
struct scheduling_settings {
  /// EEVDF slice (µs) that mdmerge and every mdfeed request for their thread at start
  /// (bus/sched_slice.hpp): 0 leaves the kernel's default (~0.7–3 ms); 100..100000 makes a
  /// thread woken by a doorbell or a socket preempt a busy core at once instead of waiting
  /// for the running task's slice to end. Linux 6.12+; older kernels ignore it (logged).
  std::int64_t wake_slice_us = 100;
};

/// The bus on NATS JetStream (section "bridge", issue 18): read by mdbridge only; the bus's
/// own processes ignore it. Every field but "servers" is optional.
struct bridge_settings {
  bool configured = false;           ///< the file has a "bridge" section
  std::vector<std::string> servers;  ///< NATS URLs (nats://host:port), at least one
  std::string stream = "MDBUS";      ///< JetStream stream name: [A-Za-z0-9_-]{1,64}
  /// Subjects are <subject_prefix>.<venue>.<channel>.<symbol>; the stream holds <prefix>.>.
  /// Tokens of [A-Za-z0-9_-] separated by dots.
  std::string subject_prefix = "md";
  std::int64_t replicas = 1;                   ///< 1..5 (3 for a cluster: R3)
  bool file_storage = true;                    ///< "storage": "file" (default) or "memory"
  std::int64_t max_age_ms = 86'400'000;        ///< records older than this are removed; 0: kept forever
  std::int64_t max_bytes = -1;                 ///< the stream's size limit; -1: none
  std::int64_t duplicate_window_ms = 120'000;  ///< JetStream drops a second Nats-Msg-Id seen within this
  std::int64_t max_in_flight = 8192;           ///< publish: unacknowledged publishes at most
  std::int64_t ack_timeout_ms = 2'000;         ///< publish: no ack this long → the pending ones go again (same Msg-Id)
};

struct bus_config {
  std::string source;  ///< file the config came from (for messages)
  std::string bus;     ///< segment name component: [A-Za-z0-9_-]{1,64}
  mode_t segment_mode = 0600;  ///< 0600, or 0640 for a group-readable bus
  ring_sizes rings;
  merge_settings merge;
  supervisor_settings supervisor;
  scheduling_settings scheduling;
  bridge_settings bridge;
  std::vector<venue_config> venues;

  /// The venue's section, or nullptr when the file does not configure it.
  [[nodiscard]] const venue_config* find(venue v) const noexcept;
};

/// The identity of what a venue's (or a group view's) shared segments are laid out by: bus
/// name, venue, group and group count, the symbol list in order (a symbol's position indexes
/// the control block's resync table), the channels in order, and the ring sizes. Stored in the feeder's control and status
/// blocks: a process started on an edited config finds a different identity and refuses,
/// instead of addressing the wrong stream (FNV-1a 64, never 0).
[[nodiscard]] std::uint64_t config_identity(const bus_config& c, const venue_config& v) noexcept;

/// Slots the counters segment (bus/counters.hpp) is made with for this config: room for every
/// counter the merger and the supervisor register (about 10 per stream: first arrivals,
/// duplicates and leads per slot, gaps, resyncs; about 30 per slot), twice over so restarts and
/// tools have room, and never fewer than 4096. The supervisor (its owner) makes the segment
/// with it, so its size follows the config instead of a fixed table that a few hundred
/// streams fill.
/// At most kMaxCountersLimit (about 26 000 streams).
[[nodiscard]] std::uint32_t counters_capacity(const bus_config& c) noexcept;

/// Reads and validates `path`. Throws config_error (also for an unreadable file).
[[nodiscard]] bus_config load_config(const std::string& path);
/// The text of the config file `path` (what load_config parses). Throws config_error
/// (`<path>: cannot open`, `<path>: read failed`).
[[nodiscard]] std::string read_config_text(const std::string& path);
/// The directory a config file's relative ca_file paths are resolved against: `path`'s own.
[[nodiscard]] std::string config_dir(const std::string& path);

/// Validates JSON text. `source` names it in messages; relative ca_file paths are resolved
/// against `base_dir` (empty: left as written).
[[nodiscard]] bus_config parse_config(std::string_view text, const std::string& source,
                                      const std::string& base_dir = {});

/// "A" → slot_id::a, "B" → slot_id::b, anything else slot_id::none (to_string(slot_id) is
/// the inverse).
[[nodiscard]] slot_id slot_from_string(std::string_view s) noexcept;

/// The venue's channel spelling → (channel, variant); unknown spelling → channel::unknown.
/// The grammar is the venue's descriptor's (bus/venues/<venue>.cpp): Binance trade,
/// aggTrade, bookTicker, depth[@100ms|@1000ms], depth5|10|20[@100ms|@1000ms]; OKX trades,
/// tickers, bbo-tbt, books, books5 (books-l2-tbt / books50-l2-tbt need a login:
/// login_only_reason() names why they are refused).
[[nodiscard]] channel_spec parse_channel(venue v, std::string_view name);

/// Why a channel spelling cannot be used on a public connection, or empty (the venue's
/// descriptor; OKX `books-l2-tbt` and `books50-l2-tbt` answer a public subscription with
/// error 60011 "Please log in", OKX v5 docs "Order book channel", 2026-12).
[[nodiscard]] std::string login_only_reason(venue v, std::string_view name);

}  // namespace mdbus::config
