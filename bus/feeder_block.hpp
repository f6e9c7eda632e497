#pragma once
/// The two small segments between a feeder (mdfeed) and whoever watches and commands it (the
/// supervisor; tests today):
///
/// * `mdbus.<bus>.feed.<venue>.<slot>.status` (kind status_block) — written only by the
///   feeder: state, pid, times, traffic counters, parse errors per reason, ring drops,
///   reconnects, the last error text, and the acknowledgement of the last command.
/// * `mdbus.<bus>.feed.<venue>.<slot>.control` (kind control_block) — created by the
///   commander; one 64-bit command word (sequence << 8 | command) that the feeder polls and
///   acknowledges by copying it into its status block.
///
/// The feeder's ring is `mdbus.<bus>.feed.<venue>.<slot>` (spsc_ring.hpp).
///
/// Every field is a fixed-width atomic with one writer. Counters are relaxed (each is an
/// independent monotonic number; a reader takes whichever value it sees). `state` and the
/// acknowledgement are release stores so that a reader who sees them also sees what the
/// feeder did before (see the comments at each). The last error text is a seqlock over
/// atomic words, so a reader never returns a torn string.
#include "mdbus/records.hpp"
#include "mdbus/shm_segment.hpp"
#include "mdbus/venue.hpp"
#include "mdbus/venues/registry.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mdbus {

/// Connection state of one feeder slot.
enum class feeder_state : std::uint32_t {
  starting = 0,    ///< process up, nothing attempted yet
  connecting = 1,  ///< TCP / TLS / WebSocket handshake under way
  subscribed = 2,  ///< handshake done and subscriptions sent; no market data yet
  live = 3,        ///< market data arriving
  draining = 4,    ///< closing gracefully (disconnect or stop command, SIGTERM)
  down = 5,        ///< no connection: waiting out the backoff, or disconnected on command
  stopped = 6,     ///< the process finished cleanly (the ring stays valid)
};
[[nodiscard]] std::string_view to_string(feeder_state s) noexcept;

/// What the commander asks. Commands are edge-triggered by their sequence number: each new
/// word is executed once; a word written before the feeder attached is never executed.
enum class feeder_command : std::uint8_t {
  none = 0,
  connect = 1,     ///< connect now if down (also ends a disconnect)
  disconnect = 2,  ///< drain then close, and stay down until connect / reconnect
  reconnect = 3,   ///< close now and connect again at once (no backoff)
  stop = 4,        ///< drain, close, exit 0 (as SIGTERM)
  /// Planned replacement of the connection (the supervisor's make-before-break rotation):
  /// a slot-status record "rotating" with the reason in the command word's argument
  /// (a slot_reason), then as reconnect.
  rotate = 5,
};
[[nodiscard]] std::string_view to_string(feeder_command c) noexcept;

/// How the feeder took the command it acknowledged.
enum class command_result : std::uint32_t {
  none = 0,
  accepted = 1,  ///< being carried out; `state` shows the progress
  baseline = 2,  ///< the word found when the feeder attached: acknowledged, not executed
  unknown = 3,   ///< not a command this build knows: ignored
};
[[nodiscard]] std::string_view to_string(command_result r) noexcept;

/// Command word: sequence in the high 48 bits, an argument in the next 8 (rotate: the
/// slot_reason), the command in the low 8 — one word, so a command and its argument are
/// published together. Sequence 0 with command none is the initial (all-zero) word.
[[nodiscard]] constexpr std::uint64_t pack_command(std::uint64_t seq, feeder_command c, std::uint8_t arg = 0) noexcept {
  return (seq << 16) | (std::uint64_t{arg} << 8) | static_cast<std::uint8_t>(c);
}
[[nodiscard]] constexpr std::uint64_t command_seq(std::uint64_t word) noexcept { return word >> 16; }
[[nodiscard]] constexpr std::uint8_t command_arg(std::uint64_t word) noexcept {
  return static_cast<std::uint8_t>(word >> 8);
}
[[nodiscard]] constexpr feeder_command command_of(std::uint64_t word) noexcept {
  return static_cast<feeder_command>(word & 0xFF);
}

/// Parse-error counters per reason, indexed by feed::parse_error (11 reasons today): room to
/// append reasons without a layout change.
inline constexpr std::size_t kFeederErrorSlots = 16;
/// Bytes of last-error text (29 words).
inline constexpr std::size_t kLastErrorCapacity = 232;

/// The status block body, right after the segment header. One writer: the feeder.
struct feeder_status {
  // Line 0: state. `state` is stored last (release) after the fields it describes.
  alignas(kCacheLine) std::atomic<std::uint32_t> state;  ///< feeder_state
  std::atomic<std::uint32_t> reason;                     ///< slot_reason of the last transition
  std::atomic<std::int64_t> state_since_ns;              ///< CLOCK_REALTIME of the last transition
  std::atomic<std::int64_t> pid;                         ///< the feeder process
  std::atomic<std::int64_t> start_time_ns;               ///< CLOCK_REALTIME when the process started
  std::atomic<std::int64_t> connect_time_ns;             ///< current connection's handshake end; 0 when none
  std::atomic<std::int64_t> last_message_ns;             ///< CLOCK_REALTIME of the last message received
  std::atomic<std::uint64_t> connections;                ///< connection attempts (the connection epoch)
  std::atomic<std::uint64_t> reconnects;                 ///< attempts after the first

  // Line 1: command acknowledgement.
  alignas(kCacheLine) std::atomic<std::uint64_t> ack_word;  ///< last command word taken
  std::atomic<std::uint32_t> ack_result;                    ///< command_result for ack_word
  std::uint32_t ack_pad;
  std::atomic<std::int64_t> ack_time_ns;  ///< CLOCK_REALTIME of the acknowledgement
  std::uint8_t command_pad[kCacheLine - 24];

  // Lines 2-3: traffic. Relaxed counters.
  alignas(kCacheLine) std::atomic<std::uint64_t> messages;  ///< complete WebSocket messages received
  std::atomic<std::uint64_t> bytes;               ///< their payload bytes
  std::atomic<std::uint64_t> records;             ///< records committed to the ring
  std::atomic<std::uint64_t> ring_overflows;      ///< records dropped: ring full
  std::atomic<std::uint64_t> parse_errors_total;  ///< messages dropped (sum of parse_errors)
  std::atomic<std::uint64_t> keepalives_sent;     ///< keepalive pings (OKX text ping, WebSocket ping)
  std::atomic<std::uint64_t> pongs_received;
  std::atomic<std::uint64_t> pong_timeouts;       ///< keepalive unanswered: reconnected
  std::atomic<std::uint64_t> no_data_trips;       ///< no-data watchdog fired: reconnected
  std::atomic<std::uint64_t> venue_notices;       ///< "going away" notices (serverShutdown, 64008)
  std::atomic<std::uint64_t> venue_errors;        ///< error events from the venue
  std::atomic<std::uint64_t> connect_failures;    ///< attempts that never reached the handshake's end
  std::atomic<std::uint64_t> remote_closes;       ///< connections the venue (or the network) ended
  std::atomic<std::uint64_t> allocations;         ///< heap allocations in the process so far (gauge)
  std::atomic<std::uint64_t> alloc_counting;      ///< 1 when `allocations` is counted (not in sanitizer builds)
  std::atomic<std::uint64_t> traffic_reserved;

  // Lines 4-5: per-reason parse errors, indexed by feed::parse_error.
  alignas(kCacheLine) std::atomic<std::uint64_t> parse_errors[kFeederErrorSlots];

  // Lines 6-9: last error text under a seqlock (odd while being written).
  alignas(kCacheLine) std::atomic<std::uint64_t> error_seq;
  std::atomic<std::int64_t> error_time_ns;  ///< CLOCK_REALTIME
  std::atomic<std::uint64_t> error_length;
  std::atomic<std::uint64_t> error_text[kLastErrorCapacity / 8];

  // Line 10: resyncs (requests from the merger in the control block). Relaxed counters.
  alignas(kCacheLine) std::atomic<std::uint64_t> resync_requests;  ///< resync generations seen move
  std::atomic<std::uint64_t> resyncs_done;       ///< snapshots written to the ring for a request
  std::atomic<std::uint64_t> resync_failures;    ///< requests that ended without a snapshot (logged)
  std::atomic<std::uint64_t> stale_resubscribes;  ///< streams resubscribed by the stale-stream watchdog
  std::atomic<std::uint64_t> config_id;           ///< config::config_identity of the feeder's config (0: not stamped)
  std::atomic<std::uint64_t> connect_deferrals;   ///< connection attempts the venue's shared pace deferred
  std::atomic<std::uint64_t> rest_deferrals;      ///< REST requests the venue's shared budget deferred
  std::atomic<std::uint64_t> rest_rejections;     ///< REST answers 429 / 418 (never expected: the budget keeps inside)

  // Line 11: backfill (issue 16; requests from the merger in the control block). Relaxed counters.
  alignas(kCacheLine) std::atomic<std::uint64_t> backfill_requests;  ///< backfill generations seen move
  std::atomic<std::uint64_t> backfill_pages;     ///< trade-history pages fetched (answers parsed)
  std::atomic<std::uint64_t> backfilled_trades;  ///< trades written to the ring from the history
  std::atomic<std::uint64_t> backfill_failures;  ///< requests that ended with ids not fetched (a gap record in the ring)
  std::atomic<std::uint64_t> backfill_reserved[4];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && sizeof(std::atomic<std::uint32_t>) == 4);
static_assert(offsetof(feeder_status, state) == 0);
static_assert(offsetof(feeder_status, reconnects) == 56);
static_assert(offsetof(feeder_status, ack_word) == 1 * kCacheLine);
static_assert(offsetof(feeder_status, ack_time_ns) == 1 * kCacheLine + 16);
static_assert(offsetof(feeder_status, messages) == 2 * kCacheLine);
static_assert(offsetof(feeder_status, traffic_reserved) == 3 * kCacheLine + 56);
static_assert(offsetof(feeder_status, parse_errors) == 4 * kCacheLine);
static_assert(offsetof(feeder_status, error_seq) == 6 * kCacheLine);
static_assert(offsetof(feeder_status, error_text) == 6 * kCacheLine + 24);
static_assert(offsetof(feeder_status, resync_requests) == 10 * kCacheLine);
static_assert(offsetof(feeder_status, backfill_requests) == 11 * kCacheLine);
static_assert(sizeof(feeder_status) == 12 * kCacheLine);
static_assert(alignof(feeder_status) == kCacheLine);

/// Resync request slots: one per (configured symbol, channel position in its venue's
/// descriptor, < kMaxChannelsPerVenue). The table is sized at creation from the venue's symbol
/// count (the control block's third geometry word), so a venue holds as many symbols as its
/// config lists, up to kMaxResyncSymbols (with the backfill table, an 80 MB block at that most;
/// an absurd header is refused).
inline constexpr std::size_t kResyncChannelsPerSymbol = kMaxChannelsPerVenue;
inline constexpr std::size_t kMaxResyncSymbols = std::size_t{1} << 16;
/// resync_index() of a channel no descriptor places: no slot.
inline constexpr std::size_t kNoResyncSlot = SIZE_MAX;

/// The resync slot of a stream: `symbol_index` is the symbol's position in the venue's
/// configured symbol list (merger and feeder read the same config); kNoResyncSlot for a
/// channel without a position. A slot beyond a block's table is refused by the block.
[[nodiscard]] constexpr std::size_t resync_index(std::size_t symbol_index, channel c) noexcept {
  const std::size_t position = channel_position(c);
  if (symbol_index >= kMaxResyncSymbols || position >= kResyncChannelsPerSymbol) return kNoResyncSlot;
  return symbol_index * kResyncChannelsPerSymbol + position;
}

/// The control block body: the command word on its own line, then the resync requests.
struct feeder_control {
  /// pack_command(seq, command). Written by the commander with release; polled by the feeder.
  alignas(kCacheLine) std::atomic<std::uint64_t> command_word;
  /// config::config_identity of the config the block's creator ran (resync indexes are
  /// positions in that config's symbol list). 0: not stamped yet (the first commander with
  /// an identity stamps it). A process with another identity refuses the block.
  std::atomic<std::uint64_t> config_id;
  std::uint8_t pad[kCacheLine - 16];
  // Then, from the second line, the resync requests (written by the merger after a real gap
  // on a book stream): a generation per stream (std::atomic<std::uint64_t>, symbols ×
  // kResyncChannelsPerSymbol of them), bumped once per request. The feeder compares each with
  // the generation it last served and, when it moved, fetches a fresh snapshot of that stream
  // (Binance: REST depth + the U/u procedure; OKX: resubscribe). Requests coalesce: two bumps
  // before the feeder looks are one resync. See resync_slots().
};
static_assert(offsetof(feeder_control, command_word) == 0);
static_assert(offsetof(feeder_control, config_id) == 8);
static_assert(sizeof(feeder_control) == kCacheLine);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && std::atomic<std::uint64_t>::is_always_lock_free);

inline constexpr std::uint64_t kFeederStatusSize = kSegmentHeaderSize + sizeof(feeder_status);

/// The resync table behind a mapped control block's first line.
[[nodiscard]] inline std::atomic<std::uint64_t>* resync_slots(feeder_control* c) noexcept {
  return std::launder(reinterpret_cast<std::atomic<std::uint64_t>*>(reinterpret_cast<std::byte*>(c) + sizeof(feeder_control)));
}
[[nodiscard]] inline const std::atomic<std::uint64_t>* resync_slots(const feeder_control* c) noexcept {
  return resync_slots(const_cast<feeder_control*>(c));
}

/// A backfill request (issue 16): the trade ids `from`..`to` of one stream, to fetch from the
/// venue's trade history; `skip` (a suspect window's OKX trades, fetched as fills): the newest
/// `skip` fills below `to` + 1 are not to be written, they belong to the aggregated trade that
/// ends the window (its count - 1). One per resync slot (same index), after the resync table. One writer
/// (the merger) under a seqlock: `seq` is odd while the ids are being written and moves by 2
/// per request, so seq / 2 is the request's generation.
struct feeder_backfill_slot {
  std::atomic<std::uint64_t> seq;
  std::atomic<std::uint64_t> from;
  std::atomic<std::uint64_t> to;
  std::atomic<std::uint64_t> skip;
};
static_assert(sizeof(feeder_backfill_slot) == 32);

/// Bytes of a control block whose resync table holds `symbols` symbols (and its backfill table).
[[nodiscard]] constexpr std::uint64_t feeder_control_size(std::size_t symbols) noexcept {
  return kSegmentHeaderSize + sizeof(feeder_control) +
         std::uint64_t{symbols} * kResyncChannelsPerSymbol * (8 + sizeof(feeder_backfill_slot));
}

/// The backfill table behind the resync table of `resync_slots` slots.
[[nodiscard]] inline feeder_backfill_slot* backfill_slots(feeder_control* c, std::size_t resync_slot_count) noexcept {
  return std::launder(reinterpret_cast<feeder_backfill_slot*>(reinterpret_cast<std::byte*>(resync_slots(c) + resync_slot_count)));
}

/// One backfill request as the feeder reads it.
struct backfill_request {
  std::uint64_t generation = 0;  ///< 0: never asked
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  std::uint64_t skip = 0;  ///< feeder_backfill_slot::skip
};


/// "feed.<venue>.<slot>", e.g. "feed.binance.A": the ring's object name; the status and control
/// blocks append ".status" / ".control".
/// A slot's path: "binance.A", and for connection group g > 0 "binance.g3.A" (group 0 keeps
/// the name a venue of one group always had); `sep` '/' gives "binance/g3/A". The one spelling
/// of a slot in segment names, counter labels and messages.
[[nodiscard]] std::string slot_path(venue v, slot_id s, std::uint32_t group = 0, char sep = '.');
/// "feed." + slot_path: "feed.binance.g3.A".
[[nodiscard]] std::string feeder_object(venue v, slot_id s, std::uint32_t group = 0);
[[nodiscard]] std::string feeder_ring_name(std::string_view bus, venue v, slot_id s, std::uint32_t group = 0);
[[nodiscard]] std::string feeder_status_name(std::string_view bus, venue v, slot_id s, std::uint32_t group = 0);
[[nodiscard]] std::string feeder_control_name(std::string_view bus, venue v, slot_id s, std::uint32_t group = 0);
/// "binance/A", "binance/g3/A": a slot in logs and messages.
[[nodiscard]] std::string feeder_display_name(venue v, slot_id s, std::uint32_t group = 0);

/// Single writer: relaxed load + store, no locked instruction (as counters.hpp).
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

/// The feeder's side of its status block.
class feeder_status_writer {
 public:
  feeder_status_writer() = default;
  /// Creates the block, or adopts a dead predecessor's (the counters carry on, as totals
  /// should across a restart; state, pid, times and the acknowledgement are reset).
  /// Throws segment_error (e.g. a live feeder already owns this slot).
  static feeder_status_writer create(const std::string& name, venue v, slot_id s, mode_t mode = 0600);

  [[nodiscard]] feeder_status& fields() noexcept { return *status_; }
  [[nodiscard]] shm_segment& segment() noexcept { return segment_; }

  /// New state with its reason (relaxed fields first, then `state` with release).
  void set_state(feeder_state s, slot_reason why, std::int64_t now_wall_ns) noexcept;
  [[nodiscard]] feeder_state state() const noexcept;
  /// Acknowledge a command word (release: publishes what the feeder did about it).
  void ack(std::uint64_t word, command_result r, std::int64_t now_wall_ns) noexcept;
  /// Replace the last error text (cut to kLastErrorCapacity bytes). Never allocates.
  void set_last_error(std::string_view text, std::int64_t now_wall_ns) noexcept;

 private:
  shm_segment segment_;
  feeder_status* status_ = nullptr;
};

/// Everything in a status block, copied out.
struct feeder_status_snapshot {
  venue venue_id = venue::unknown;
  slot_id slot = slot_id::none;
  feeder_state state = feeder_state::starting;  ///< observed (feeder_status_reader::observed_state)
  bool writer_alive = false;                    ///< the block's writer holds its lock
  slot_reason reason = slot_reason::none;
  std::int64_t state_since_ns = 0, pid = 0, start_time_ns = 0, connect_time_ns = 0, last_message_ns = 0;
  std::uint64_t connections = 0, reconnects = 0;
  std::uint64_t ack_word = 0;
  command_result ack_result = command_result::none;
  std::int64_t ack_time_ns = 0;
  std::uint64_t messages = 0, bytes = 0, records = 0, ring_overflows = 0, parse_errors_total = 0;
  std::uint64_t keepalives_sent = 0, pongs_received = 0, pong_timeouts = 0, no_data_trips = 0;
  std::uint64_t venue_notices = 0, venue_errors = 0, connect_failures = 0, remote_closes = 0;
  std::uint64_t allocations = 0, alloc_counting = 0;
  std::uint64_t resync_requests = 0, resyncs_done = 0, resync_failures = 0, stale_resubscribes = 0, config_id = 0;
  std::uint64_t connect_deferrals = 0, rest_deferrals = 0, rest_rejections = 0;
  std::uint64_t backfill_requests = 0, backfill_pages = 0, backfilled_trades = 0, backfill_failures = 0;
  std::uint64_t parse_errors[kFeederErrorSlots] = {};
  std::string last_error;
  std::int64_t last_error_time_ns = 0;
};

/// A supervisor's or tool's read-only view of a status block.
class feeder_status_reader {
 public:
  feeder_status_reader() = default;
  /// One attempt: ok, await (not there yet) or incompatible with `reason` naming the segment.
  static attach_status try_open(const std::string& name, feeder_status_reader& out, std::string& reason);
  /// Throwing form; waits up to wait_ms for the feeder to create it.
  static feeder_status_reader open(const std::string& name, int wait_ms = 0);

  [[nodiscard]] const feeder_status& fields() const noexcept { return *status_; }
  /// acquire: pairs with set_state's release. What the feeder last wrote: a feeder killed
  /// with SIGKILL leaves "live" here for ever; see observed_state.
  [[nodiscard]] feeder_state state() const noexcept;
  /// Whether the block's writer still holds its lock (the kernel drops it when the writer dies).
  [[nodiscard]] bool writer_alive() const noexcept;
  /// The state as observed, not as self-reported: state() while the writer is alive; down
  /// once it is gone, unless it said "stopped" on its way out.
  [[nodiscard]] feeder_state observed_state() const noexcept;
  /// acquire: pairs with ack()'s release.
  [[nodiscard]] std::uint64_t ack_word() const noexcept;
  /// The last error text; retries while the feeder is rewriting it (bounded: returns
  /// whatever it last read after many tries, never a torn string: "" then).
  [[nodiscard]] std::string last_error() const;
  [[nodiscard]] feeder_status_snapshot snapshot() const;
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }

 private:
  shm_segment segment_;
  const feeder_status* status_ = nullptr;
};

/// The commander's side of a control block (supervisor; tests).
class feeder_control_writer {
 public:
  feeder_control_writer() = default;
  /// Creates the block, or adopts a dead commander's (its sequence carries on). Throws segment_error.
  /// `config_id` (config::config_identity; 0 = none): stamped into a block that has none; a
  /// block stamped with another identity is refused (segment_error naming both).
  /// `symbols`: the venue's configured symbol count, which sizes the resync table
  /// (1..kMaxResyncSymbols); an existing block of another size is refused.
  static feeder_control_writer create(const std::string& name, venue v, slot_id s, std::size_t symbols,
                                      mode_t mode = 0600, std::uint64_t config_id = 0);
  /// As create(), but when another live process holds the block (a merger that ran before
  /// the supervisor made it), opens it read-write beside that process instead of failing:
  /// send() and resync requests are atomic read-modify-writes, so two commanders are safe.
  static feeder_control_writer create_or_share(const std::string& name, venue v, slot_id s, std::size_t symbols,
                                               mode_t mode = 0600, std::uint64_t config_id = 0);
  /// Write the next command (sequence + 1) with release; returns the word, which the feeder's
  /// status block shows in ack_word once taken. A CAS, so two commanders never reuse a sequence.
  std::uint64_t send(feeder_command c, std::uint8_t arg = 0) noexcept;
  [[nodiscard]] std::uint64_t current() const noexcept;
  [[nodiscard]] shm_segment& segment() noexcept { return segment_; }

 private:
  friend class feeder_resync_requester;
  shm_segment segment_;
  feeder_control* control_ = nullptr;
};

/// The merger's side of a control block: it only bumps resync generations. Opens the block
/// the commander created (read-write, without taking the writer role).
class feeder_resync_requester {
 public:
  feeder_resync_requester() = default;
  /// One attempt: ok, await (no block yet) or incompatible with `reason`.
  /// A block stamped with a config identity other than `config_id` (when both non-zero) is
  /// incompatible: its resync slots are positions in another symbol list. So is a block whose
  /// table is not sized for `symbols` symbols.
  static attach_status try_open(const std::string& name, venue v, slot_id s, std::size_t symbols,
                                feeder_resync_requester& out, std::string& reason, std::uint64_t config_id = 0);
  /// Ask for a resync of slot `index` (resync_index()). Returns the new generation; 0 when
  /// the index is out of range or the block is not open.
  std::uint64_t request(std::size_t index) noexcept;
  /// Ask the feeder to fetch trade ids `from`..`to` of the stream in slot `index` from the
  /// venue's history (issue 16). Returns the request's generation; 0 when the index is out of
  /// range or the block is not open. One writer per block: the merger.
  std::uint64_t request_backfill(std::size_t index, std::uint64_t from, std::uint64_t to, std::uint64_t skip = 0) noexcept;
  [[nodiscard]] bool valid() const noexcept { return control_ != nullptr; }
  /// Resync slots in the block's table (symbols × kResyncChannelsPerSymbol).
  [[nodiscard]] std::size_t slots() const noexcept { return slots_; }

 private:
  shm_segment segment_;
  feeder_control* control_ = nullptr;
  std::size_t slots_ = 0;
};

/// The feeder's read-only view of its control block.
class feeder_control_reader {
 public:
  feeder_control_reader() = default;
  /// One attempt; validates kind, size and that the block is for this venue and slot.
  /// As feeder_resync_requester::try_open for the config identity.
  static attach_status try_open(const std::string& name, venue v, slot_id s, std::size_t symbols,
                                feeder_control_reader& out, std::string& reason, std::uint64_t config_id = 0);
  /// acquire: pairs with the commander's release in send().
  [[nodiscard]] std::uint64_t load() const noexcept {
    return control_->command_word.load(std::memory_order_acquire);
  }
  /// Generation of resync slot `index` (0 beyond the table); acquire pairs with request().
  [[nodiscard]] std::uint64_t resync_generation(std::size_t index) const noexcept {
    return index < slots_ ? resync_slots(control_)[index].load(std::memory_order_acquire) : 0;
  }
  /// The latest backfill request of slot `index` (generation 0 beyond the table or when never
  /// asked). Reads under the writer's seqlock: never a torn pair of ids.
  [[nodiscard]] backfill_request backfill(std::size_t index) const noexcept;
  [[nodiscard]] bool valid() const noexcept { return control_ != nullptr; }
  [[nodiscard]] std::size_t slots() const noexcept { return slots_; }
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }

 private:
  shm_segment segment_;
  const feeder_control* control_ = nullptr;
  std::size_t slots_ = 0;
};

}  // namespace mdbus
