#pragma once
/// The consumer API: what a strategy links (`mdbus::consumer`) to read the bus's output ring.
///
///     mdbus::consumer c = mdbus::consumer::open({.bus = "prod", .filter = mdbus::record_filter{}.venue(mdbus::venue::okx)});
///     for (;;) {
///       const mdbus::poll_result r = c.wait(100'000'000);  // or c.poll() in a busy loop
///       if (r.status == mdbus::poll_status::record)
///         mdbus::visit_record(r.record, overloaded{[](const mdbus::trade_record& t) { ... },
///                                                  [](const mdbus::book_view& b) { ... }, [](const auto&) {}});
///       else if (r.status == mdbus::poll_status::lapped)
///         ... r.missed_frames records (r.missed_bytes ring bytes) were lost to this consumer ...
///     }
///
/// Guarantees: the ring is mapped read-only (a strategy cannot corrupt the bus); a record is
/// copied out of the ring and handed over only after the ring has confirmed that no byte of
/// it was overwritten during the copy and record_view::parse has validated its layout, so
/// torn data never reaches the caller. Falling a whole ring behind is reported once per lap
/// with exact counts, never silently skipped.
///
/// Hot path (poll, wait, visit_record): no allocation, no exception, no lock. poll() makes no
/// system call; wait() makes one only to sleep (FUTEX_WAIT in idle_mode::wait, nanosleep in
/// backoff) after its spin phase. The merger never blocks on a consumer: it makes a system
/// call (FUTEX_WAKE) only in a batch after which some consumer sleeps.
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/records.hpp"
#include "mdbus/record_filter.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace mdbus {

/// How wait() idles while the ring is empty:
/// wait      — (the default) poll for spin_ns, then sleep in the kernel on the ring's
///             doorbell until the merger publishes (bus/include/mdbus/doorbell.hpp): no CPU while the bus
///             is quiet, woken within the scheduler's wake-up time of a publication (~11 µs
///             between idle cores, ring_bench; tens to hundreds of µs when every core is
///             busy: bench/RESULTS.md, e2e). Needs a reader-table slot below 64
///             (registration); without one wait() behaves as backoff.
/// busy_spin — one core at 100 %, the record is seen within ~100 ns of its publication;
/// yield     — sched_yield between polls: 100 % of a core unless other threads want it;
/// backoff   — spin, then yield, then sleep with the pause doubling from 1 µs up to
///             max_sleep_ns: near-zero CPU when idle, latency up to max_sleep_ns (plus the
///             kernel's timer slack, ~50 µs) for the first record after a quiet period.
enum class idle_mode : std::uint8_t { busy_spin, yield, backoff, wait };

struct idle_policy {
  idle_mode mode = idle_mode::wait;
  std::uint32_t spins = 2000;           ///< empty polls before yielding (backoff)
  std::uint32_t yields = 50;            ///< sched_yield calls before sleeping (backoff)
  std::int64_t max_sleep_ns = 250'000;  ///< longest single sleep (backoff)
  std::int64_t spin_ns = 5'000;         ///< wait: how long to poll before sleeping on the doorbell
};

struct consumer_options {
  std::string bus;             ///< bus name (segment mdbus.<bus>.<object>)
  std::string object = "out";  ///< the merger's output ring
  /// newest: only records published after open; oldest: everything still in the ring.
  start_position start = start_position::newest;
  /// Where to continue after a lap: the oldest intact record (lose as little as possible)
  /// or the newest (skip to live data, for consumers that only care about the present).
  lap_policy on_lap = lap_policy::resume_oldest;
  record_filter filter;  ///< records that fail it are skipped (counted in stats().filtered)
  int open_wait_ms = 0;  ///< open(): how long to wait for the writer to create the ring
  /// Register in the ring's reader table (`<ring>.readers`) so tools (`shmcat info`) show
  /// this consumer's position, lag and losses. Best effort: without a table, write access to
  /// it or a free slot the consumer reads exactly the same (registration_problem() says why).
  bool register_reader = true;
  /// The name tools show (at most kReaderNameMax = 16 bytes, cut beyond). Empty: the program's name.
  std::string reader_name;
};

enum class poll_status : std::uint8_t {
  record,      ///< `record` holds the next record that passed the filter
  empty,       ///< nothing new (wait(): nothing before the timeout)
  lapped,      ///< fell a full ring behind: `missed_frames`/`missed_bytes` are lost; reading continues
  bad_record,  ///< a frame that is not a valid record (`error` says why); skipped
  corrupt,     ///< the ring contradicts its own geometry (a broken writer); the next poll reopens
};

struct poll_result {
  poll_status status = poll_status::empty;
  /// For `record`: a view of the consumer's private copy. Valid until the next poll/wait.
  record_view record;
  std::uint64_t seq = 0;            ///< ring sequence of the frame (record, bad_record)
  std::uint64_t missed_frames = 0;  ///< lapped: frames this consumer will never see
  std::uint64_t missed_bytes = 0;   ///< lapped: ring bytes skipped
  record_status error = record_status::ok;  ///< bad_record: what record_view::parse said
};

/// Running totals since open. Plain counters of this process, not shared memory.
struct consumer_stats {
  std::uint64_t records = 0;        ///< handed to the caller
  std::uint64_t filtered = 0;       ///< valid records the filter skipped
  std::uint64_t laps = 0;
  std::uint64_t missed_frames = 0;  ///< summed over laps
  std::uint64_t missed_bytes = 0;
  std::uint64_t bad_records = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t sleeps = 0;         ///< wait(): sleeps on the doorbell (idle_mode::wait)
};

class consumer {
 public:
  consumer() = default;
  consumer(consumer&&) noexcept = default;
  consumer& operator=(consumer&&) noexcept = default;
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;
  ~consumer() = default;

  /// Maps mdbus.<bus>.<object> read-only. Throws segment_error with one line naming the
  /// segment: "does not exist" (after open_wait_ms), "layout version N, this build reads M",
  /// "Permission denied", ...
  static consumer open(const consumer_options& options);
  /// One attempt, no exception for a missing or unfinished ring: ok, await (not there yet,
  /// `reason` says why) or incompatible (never usable: `reason` says why).
  static attach_status try_open(const consumer_options& options, consumer& out, std::string& reason);

  /// The next record that passes the filter, or empty / lapped / bad_record / corrupt.
  /// Never blocks, never allocates.
  [[nodiscard]] poll_result poll() noexcept;

  /// poll() until something other than `empty` arrives or `timeout_ns` passes (then empty),
  /// idling per `idle`. A timeout of 0 is one poll. In idle_mode::wait a signal that
  /// interrupts the sleep also returns empty (so a stop flag set by a handler is seen at once).
  [[nodiscard]] poll_result wait(std::int64_t timeout_ns, const idle_policy& idle = {}) noexcept;

  /// Frames published that this consumer has not read yet (filtered ones included).
  [[nodiscard]] std::uint64_t lag_frames() const noexcept { return reader_.lag_frames(); }
  /// The merger's liveness: dead (its lock is free), stale (heartbeat older than the limit) or alive.
  [[nodiscard]] writer_liveness writer_state(std::int64_t max_heartbeat_age_ns) const noexcept;

  [[nodiscard]] const consumer_stats& stats() const noexcept { return stats_; }
  /// The mapping (read-only): name, header, size.
  [[nodiscard]] const shm_segment& segment() const noexcept { return reader_.segment(); }
  [[nodiscard]] const broadcast_ring_geometry& geometry() const noexcept { return reader_.geometry(); }
  [[nodiscard]] const record_filter& filter() const noexcept { return options_.filter; }
  void set_filter(record_filter f) { options_.filter = std::move(f); }
  [[nodiscard]] bool valid() const noexcept { return buffer_ != nullptr; }
  /// Whether this consumer holds a slot in the ring's reader table.
  [[nodiscard]] bool registered() const noexcept { return registration_.valid(); }
  /// Why registration was asked for and failed (empty otherwise).
  [[nodiscard]] const std::string& registration_problem() const noexcept { return registration_problem_; }

 private:
  poll_result poll_ring() noexcept;
  /// With a filter: peek at the record header, skip a record the filter rejects without
  /// copying its body; otherwise copy the whole frame. Never hands out unvalidated bytes.
  broadcast_read_result read_next(std::span<std::byte> buf) noexcept;
  void publish_progress(poll_status s) noexcept;
  /// wait() in idle_mode::wait with a doorbell: spin, announce, look again, sleep.
  poll_result wait_on_doorbell(doorbell_line& bell, std::int64_t now, std::int64_t deadline,
                               const idle_policy& idle) noexcept;

  broadcast_ring_reader reader_;
  consumer_options options_;
  std::unique_ptr<std::uint64_t[]> buffer_;  ///< max_payload bytes, 8-aligned: records copy out here
  std::size_t buffer_bytes_ = 0;
  consumer_stats stats_;
  bool reopen_ = false;  ///< set after `corrupt`: the next poll re-attaches at the newest frame
  reader_registration registration_;  ///< empty unless registered
  std::string registration_problem_;
  std::uint64_t published_pos_ = ~std::uint64_t{0};  ///< position last stored in the reader table
  std::uint32_t polls_since_touch_ = 0;
};

/// Calls f with the typed record: f(const trade_record&), f(const bbo_record&),
/// f(const book_view&) for both book types, f(const gap_record&), f(const slot_status_record&),
/// f(const mark_funding_record&), f(const instrument_record&).
/// `r` must be a view record_view::parse accepted (every view a consumer hands out is).
template <class F>
void visit_record(const record_view& r, F&& f) {
  switch (r.type()) {
    case record_type::trade:
      if (const auto t = r.trade()) f(*t);
      break;
    case record_type::bbo:
      if (const auto b = r.bbo()) f(*b);
      break;
    case record_type::book_delta:
    case record_type::book_snapshot:
      if (const auto b = r.book()) f(*b);
      break;
    case record_type::gap:
      if (const auto g = r.gap()) f(*g);
      break;
    case record_type::slot_status:
      if (const auto s = r.slot_status()) f(*s);
      break;
    case record_type::mark_funding:
      if (const auto m = r.mark_funding()) f(*m);
      break;
    case record_type::instrument:
      if (const auto i = r.instrument()) f(*i);
      break;
  }
}

/// The usual helper for visit_record: overloaded{[](const trade_record&) {...}, [](const auto&) {}}.
template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

[[nodiscard]] std::string_view to_string(poll_status s) noexcept;

}  // namespace mdbus
