#pragma once
/// The merger's counters in the bus's counters segment (bus/counters.hpp), named in one
/// place: mdmerge registers them by these keys, and the supervisor, its metrics and tools
/// read them by the same keys instead of each spelling "merge.<venue>.<slot>.<name>".
/// Labels: merge.<total> (bus-wide) and merge.<venue>.<slot>.<stat> (per input slot); the
/// per-stream counters (merge.<venue>.<channel>.<symbol>...) are the merger's own detail.
#include "bus/counters.hpp"
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mdbus {

/// Bus-wide totals: merge.<name>.
enum class merge_total : std::uint8_t {
  published, duplicates, gaps, holes_filled, hold_overflows, resync_requests, resync_dropped, resync_unrouted,
  malformed_frames, output_oversize, primed_records, streams, no_stream_room,
  // Backfill (issue 16): holes asked of a feeder, trades published from the venues' history,
  // gap records for what it did not bring, trades that came after their gap record (dropped),
  // requests with no control block to go to.
  backfill_requests, backfilled, backfill_gaps, backfill_late, backfill_unrouted,
  suspect_windows,  ///< suspect records: a stream whose ids hide losses, after its whole group was down
};
inline constexpr std::size_t kMergeTotals = 19;

/// Per input slot: merge.<venue>.<slot>.<name>. The seven lead buckets are consecutive.
enum class merge_slot_stat : std::uint8_t {
  frames, malformed_frames, first_arrivals, duplicates, lead_samples, lead_sum_ns, lead_max_ns, feeder_ring_overflows,
  lead_lt_1us, lead_lt_10us, lead_lt_100us, lead_lt_1ms, lead_lt_10ms, lead_lt_100ms, lead_ge_100ms,
  streams_in_step,  ///< gauge: streams of the venue the slot delivers in step (the rotation gate)
  live_marker_ns,   ///< gauge: CLOCK_REALTIME of the slot's last "went live" marker the merger read
};
inline constexpr std::size_t kMergeSlotStats = 17;
inline constexpr std::size_t kMergeLeadBuckets = 7;
/// The lead bucket `b` (0 .. kMergeLeadBuckets-1: < 1 µs, < 10 µs, ... >= 100 ms).
[[nodiscard]] constexpr merge_slot_stat lead_bucket(std::size_t b) noexcept {
  return static_cast<merge_slot_stat>(static_cast<std::size_t>(merge_slot_stat::lead_lt_1us) + b);
}

[[nodiscard]] std::string_view name_of(merge_total t) noexcept;
[[nodiscard]] std::string_view name_of(merge_slot_stat s) noexcept;
/// "merge.published"
[[nodiscard]] std::string merge_label(merge_total t);
/// "merge.binance.A.first_arrivals"; a connection group g > 0: "merge.binance.g2.A.first_arrivals".
[[nodiscard]] std::string merge_label(venue v, slot_id s, merge_slot_stat x, std::uint32_t group = 0);

/// Reads the merger's counters by key. Each label is located once and read in constant time
/// afterwards (the rotation gate asks hundreds of times a second, and a scan of a large bus's
/// segment is megabytes), and located again when its slot changed hands (a restarted merger
/// re-registers). Not thread-safe; the segment must outlive the reader.
class merger_counter_reader {
 public:
  merger_counter_reader() = default;
  explicit merger_counter_reader(const counters_segment* segment) : segment_(segment) {}
  /// The value, or 0 while the merger has not registered the counter (no merger yet).
  [[nodiscard]] std::int64_t value(merge_total t);
  [[nodiscard]] std::int64_t value(venue v, slot_id s, merge_slot_stat x, std::uint32_t group = 0);

 private:
  struct entry {
    std::string label;
    std::optional<std::uint32_t> id;
  };
  std::int64_t read(entry& e);
  const counters_segment* segment_ = nullptr;
  std::array<entry, kMergeTotals> totals_{};
  std::unordered_map<std::uint64_t, entry> slots_;  ///< by (group, venue, slot, stat)
};

}  // namespace mdbus
