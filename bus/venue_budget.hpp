#pragma once
/// One REST budget and one connection-attempt pace per venue, shared by every process of a
/// bus on the host (ARCHITECTURE.md "Venues as data"; feeders/CONFORMANCE.md "Hosts and REST",
/// "Trade history"): segment `mdbus.<bus>.budget.<venue>`, created by whichever process comes first,
/// updated by all of them with CAS on 64-bit words — no lock in shared memory, so a process
/// that dies mid-update leaves a consistent state (each update is one CAS). The decisions are
/// the pure step functions of bus/venue_budget_core.hpp; this file only adds the segment, the
/// CAS loops, the clocks and the counters.
///
/// Integration (feeder):
///   auto budget = venue_budget::open_or_create(bus, venue::binance, default_venue_limits(venue::binance));
///   before each WebSocket connect:  if (auto d = budget.try_connect(); !d.granted()) retry in d.retry_in_ns
///   before each REST GET:           if (auto d = budget.try_rest(binance_depth_weight(5000)); !d.granted()) ...
///   after each REST answer:         budget.note_rest_answer(status, X-MBX-USED-WEIGHT-1M or -1, Retry-After or -1)
/// Supervisor: venue_budget::open(bus, v, access_mode::read_only).stats() for metrics,
/// venue_budget::remove(bus, v) when the bus is torn down.
#include "mdbus/shm_segment.hpp"
#include "mdbus/venue.hpp"
#include "bus/venue_budget_core.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace mdbus {

/// The segment kind of a venue budget. Not (yet) an enumerator of segment_kind, which this
/// module may not edit: 16 leaves room for the enum's own growth (7, 8, ...); add
/// `venue_budget = 16` (and its to_string) to bus/include/mdbus/shm_segment.hpp when integrating, and
/// inspection tools show "venue_budget" instead of "unknown".
inline constexpr segment_kind kVenueBudgetKind = segment_kind::venue_budget;

/// The body after the 128-byte segment header: each CAS word on its own line, so the
/// connection pace (checked before every connect) never shares a line with REST traffic,
/// and the counters (fetch_add by every process) on lines of their own.
struct venue_budget_layout {
  /// rate word of the REST limit (fixed: window index | used; sliding: GCRA TAT, ns).
  alignas(kCacheLine) std::atomic<std::uint64_t> rest_word;
  std::uint8_t pad0[kCacheLine - 8];
  /// No REST grant before this time (REST clock, ns): the latest 429/418 Retry-After.
  alignas(kCacheLine) std::atomic<std::int64_t> rest_blocked_until;
  std::uint8_t pad1[kCacheLine - 8];
  /// rate word of the connection pace (sliding: GCRA TAT, CLOCK_MONOTONIC ns).
  alignas(kCacheLine) std::atomic<std::uint64_t> connect_word;
  std::uint8_t pad2[kCacheLine - 8];
  // Counters: relaxed fetch_add by any process; monotonic since creation.
  alignas(kCacheLine) std::atomic<std::int64_t> rest_granted;  ///< requests granted
  std::atomic<std::int64_t> rest_units_granted;                 ///< their total weight / cost
  std::atomic<std::int64_t> rest_deferred;                      ///< wait answers (any reason)
  std::atomic<std::int64_t> rest_blocked;                       ///< of which: blocked by a Retry-After
  std::atomic<std::int64_t> rest_refused;                       ///< refused (too heavy, cost 0)
  std::atomic<std::int64_t> rest_answers;                       ///< note_rest_answer calls
  std::atomic<std::int64_t> http_429;                           ///< 429 answers seen
  std::atomic<std::int64_t> http_418;                           ///< 418 answers (IP ban) seen
  alignas(kCacheLine) std::atomic<std::int64_t> connect_granted;
  std::atomic<std::int64_t> connect_deferred;
  std::atomic<std::int64_t> used_raises;       ///< headers that raised the window's count
  std::atomic<std::int64_t> last_used_header;  ///< the last X-MBX-USED-WEIGHT-1M seen (gauge)
  std::uint8_t pad4[kCacheLine - 32];
};
static_assert(sizeof(venue_budget_layout) == 5 * kCacheLine);
static_assert(offsetof(venue_budget_layout, rest_word) == 0);
static_assert(offsetof(venue_budget_layout, rest_blocked_until) == 1 * kCacheLine);
static_assert(offsetof(venue_budget_layout, connect_word) == 2 * kCacheLine);
static_assert(offsetof(venue_budget_layout, rest_granted) == 3 * kCacheLine);
static_assert(offsetof(venue_budget_layout, http_418) == 3 * kCacheLine + 56);
static_assert(offsetof(venue_budget_layout, connect_granted) == 4 * kCacheLine);
static_assert(alignof(venue_budget_layout) == kCacheLine);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

inline constexpr std::uint64_t kVenueBudgetSegmentSize = kSegmentHeaderSize + sizeof(venue_budget_layout);

/// A copy of the counters, for metrics and shmcat.
struct venue_budget_stats {
  std::int64_t rest_granted = 0, rest_units_granted = 0, rest_deferred = 0, rest_blocked = 0, rest_refused = 0;
  std::int64_t rest_answers = 0, http_429 = 0, http_418 = 0;
  std::int64_t connect_granted = 0, connect_deferred = 0, used_raises = 0, last_used_header = 0;
};

/// The header geometry of a budget segment: {venue | rest kind << 8 | connect kind << 16,
/// rest budget << 32 | rest window ms, connect budget << 32 | connect window ms}. Every
/// process of a bus must ask for the same limits; an opener with others is refused.
std::array<std::uint64_t, 3> venue_budget_geometry(venue v, const venue_limits& l) noexcept;

/// A process's handle on its venue's shared budget. Move-only; every method may be called
/// from any thread (all state is CAS'd in the segment). Unmapping never removes the segment.
class venue_budget {
 public:
  venue_budget() = default;
  venue_budget(venue_budget&& other) noexcept;
  venue_budget& operator=(venue_budget&& other) noexcept;
  venue_budget(const venue_budget&) = delete;
  venue_budget& operator=(const venue_budget&) = delete;
  ~venue_budget() = default;

  /// "mdbus.<bus>.budget.<venue>". Throws segment_error for a bad bus name.
  static std::string segment_name_for(std::string_view bus, venue v);

  /// Open the venue's budget read-write, creating it (O_EXCL, mode `mode`) if it does not
  /// exist. Two processes starting at once: one creates, the other waits for the creator's
  /// handshake (up to `wait_ms`) and opens. A segment half-built by a creator that died is
  /// replaced. Throws segment_error naming the segment when `limits` are invalid, when the
  /// existing segment was created with other limits ("limits differ: ...") or is of another
  /// layout, or when no usable segment appears within `wait_ms`.
  static venue_budget open_or_create(std::string_view bus, venue v, const venue_limits& limits,
                                     mode_t mode = 0600, int wait_ms = 2000);

  /// Open an existing budget; its limits are read from the segment. Tools use read_only
  /// (try_* then answer refused/read_only). Throws segment_error like shm_segment::open.
  static venue_budget open(std::string_view bus, venue v, access_mode mode, int wait_ms = 0);

  /// Unlink the venue's budget segment (the supervisor's cleanup, with no process of the bus
  /// left: a process that still maps it keeps the old one while a newcomer would create a
  /// fresh one). True if it existed. Never throws (a bad bus name is false).
  static bool remove(std::string_view bus, venue v) noexcept;

  /// REST: spend `cost` units now (Binance request weight, e.g. binance_depth_weight(limit);
  /// OKX okx_rest_cost(...)). granted → send the request; wait → do not send, retry after
  /// retry_in_ns (window_full, or retry_after: a 429/418 seen by *any* process blocks every
  /// process until its Retry-After has passed); refused → never grantable (a bug). A grant
  /// is never returned once a block is recorded (checked again after the spending CAS).
  /// Never throws, never allocates; a few atomic operations on two lines.
  [[nodiscard]] budget_decision try_rest(std::uint32_t cost) noexcept;

  /// REST: after every answer (or failure) of a granted request. `http_status`: the status, 0
  /// if none arrived. `used_weight`: X-MBX-USED-WEIGHT-1M as an integer, or -1 when absent
  /// (OKX: always -1); raises this minute's count to it (other programs on the IP count).
  /// `retry_after_s`: Retry-After in seconds, or -1 when absent. For 429 (OKX: also code
  /// 50011 in the body — pass 429) and 418 every process of the bus is blocked until
  /// Retry-After (absent: one window; 418 at least 2 minutes) and the window is marked spent.
  void note_rest_answer(int http_status, std::int64_t used_weight, std::int64_t retry_after_s) noexcept;

  /// Connection attempt: call right before each WebSocket connect (every slot, reconnect and
  /// rotation of the venue shares the pace). granted → connect; wait → do not connect before
  /// retry_in_ns. One clock read and one CAS on the pace's own line (~tens of ns uncontended).
  [[nodiscard]] budget_decision try_connect() noexcept;

  /// The same with the caller's clock (tests, simulation): `now` in rest_clock_ns() terms
  /// for REST, connect_clock_ns() terms for connections.
  [[nodiscard]] budget_decision try_rest_at(std::uint32_t cost, std::int64_t now) noexcept;
  void note_rest_answer_at(int http_status, std::int64_t used_weight, std::int64_t retry_after_s,
                           std::int64_t now) noexcept;
  [[nodiscard]] budget_decision try_connect_at(std::int64_t now) noexcept;

  /// The clocks decisions use: CLOCK_REALTIME for a fixed (calendar) window — Binance counts
  /// per calendar minute —, CLOCK_MONOTONIC for a sliding one.
  [[nodiscard]] std::int64_t rest_clock_ns() const noexcept;
  [[nodiscard]] std::int64_t connect_clock_ns() const noexcept;

  [[nodiscard]] venue_budget_stats stats() const noexcept;
  /// Units in use in the REST window at `now` (see rate_in_use) and the block's end (REST clock).
  [[nodiscard]] std::uint64_t rest_in_use(std::int64_t now) const noexcept;
  [[nodiscard]] std::int64_t rest_blocked_until() const noexcept;

  [[nodiscard]] venue id() const noexcept { return venue_; }
  [[nodiscard]] const venue_limits& limits() const noexcept { return limits_; }
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }
  [[nodiscard]] bool valid() const noexcept { return body_ != nullptr; }

 private:
  void bind(shm_segment seg, venue v);

  shm_segment segment_;
  venue_budget_layout* body_ = nullptr;
  venue venue_ = venue::unknown;
  venue_limits limits_{};
};

}  // namespace mdbus
