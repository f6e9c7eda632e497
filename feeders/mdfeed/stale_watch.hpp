#pragma once
/// The per-stream staleness watchdog (ARCHITECTURE.md "Two watchdogs, not one"): a
/// stream (one channel of one symbol) that goes silent far beyond its own usual rate while
/// its connection keeps delivering other streams has a silently dropped subscription. The
/// cure is to resubscribe *that stream*, not to restart a healthy connection.
///
/// Pure decision logic: no I/O, no clock (time is passed in), no allocation after
/// construction. The feeder reports each record's stream and asks, on its tick, which stream
/// to resubscribe now; it carries out the resubscribe and reports it back.
///
/// Rules (each one why):
/// * A stream has a usual rate only after `min_samples` records on this connection: a stream
///   that never delivered (a quiet instrument, an OKX book before its first update) is never
///   stale — a quiet market costs nothing.
/// * Stale when silent for more than max(stale_ns, rate_factor x its smoothed interval): a
///   stream that normally ticks every 30 s is not stale after 60 s.
/// * Only while the connection is busy: another stream delivered within busy_ns. When the
///   whole connection goes quiet, that is the market (or the connection watchdog's business).
/// * Resubscribes are spaced by at least `spacing_ns` across the connection (OKX: 480
///   subscribe/unsubscribe requests per connection per hour, feeders/CONFORMANCE.md), and a stream
///   resubscribed without effect waits twice as long before the next one (up to 64x).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mdbus::feed {

class stale_watch {
 public:
  struct options {
    std::int64_t stale_ns = 60'000'000'000;      ///< floor: never stale before this much silence
    std::int64_t rate_factor = 20;               ///< stale after this many usual intervals of silence
    std::uint32_t min_samples = 8;               ///< records before a stream's usual rate counts
    std::int64_t busy_ns = 5'000'000'000;        ///< the connection is busy when any other stream delivered within this
    std::int64_t spacing_ns = 15'000'000'000;    ///< at most one resubscribe per connection per this
  };

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  stale_watch(std::size_t streams, const options& o);

  /// A new connection: every stream starts without a rate.
  void connection_started(std::int64_t now) noexcept;
  /// A record of `stream` arrived at `now` (monotonic ns). Out-of-range indexes are ignored.
  void on_record(std::size_t stream, std::int64_t now) noexcept;
  /// The stream to resubscribe now, or npos.
  [[nodiscard]] std::size_t check(std::int64_t now) const noexcept;
  /// The feeder resubscribed `stream` at `now`.
  void resubscribed(std::size_t stream, std::int64_t now) noexcept;

  /// How long `stream` may be silent before it is stale (0 while it has no rate).
  [[nodiscard]] std::int64_t threshold_ns(std::size_t stream) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return streams_.size(); }

 private:
  struct stream {
    std::int64_t last_ns = 0;      ///< last record (or resubscribe); meaningful once samples > 0
    std::int64_t interval_ns = 0;  ///< smoothed inter-arrival time (EWMA, 1/8)
    std::uint32_t samples = 0;     ///< records on this connection
    std::uint32_t futile = 0;      ///< resubscribes since its last record
  };
  options o_;
  std::vector<stream> streams_;
  std::int64_t last_any_ns_ = 0;          ///< newest record of any stream
  std::size_t last_any_stream_ = npos;    ///< ...and whose it was
  std::int64_t second_any_ns_ = 0;        ///< newest record of a stream other than last_any_stream_
  std::int64_t last_resubscribe_ns_ = 0;  ///< 0 = none on this connection
};

}  // namespace mdbus::feed
