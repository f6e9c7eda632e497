#include "bus/merge_counter_names.hpp"

#include "bus/feeder_block.hpp"

namespace mdbus {
namespace {

constexpr std::array<std::string_view, kMergeTotals> kTotalNames = {
    "published",       "duplicates",       "gaps",          "holes_filled",   "hold_overflows",
    "resync_requests", "resync_dropped",   "resync_unrouted", "malformed_frames", "output_oversize",
    "primed_records",  "streams",          "no_stream_room", "backfill_requests", "backfilled",
    "backfill_gaps",   "backfill_late",    "backfill_unrouted", "suspect_windows"};
constexpr std::array<std::string_view, kMergeSlotStats> kSlotNames = {
    "frames",       "malformed_frames", "first_arrivals", "duplicates",    "lead_samples",  "lead_sum_ns",
    "lead_max_ns",  "feeder_ring_overflows", "lead_lt_1us", "lead_lt_10us", "lead_lt_100us", "lead_lt_1ms",
    "lead_lt_10ms", "lead_lt_100ms",    "lead_ge_100ms",  "streams_in_step", "live_marker_ns"};
static_assert(static_cast<std::size_t>(merge_total::suspect_windows) + 1 == kMergeTotals);
static_assert(static_cast<std::size_t>(merge_slot_stat::live_marker_ns) + 1 == kMergeSlotStats);
static_assert(lead_bucket(kMergeLeadBuckets - 1) == merge_slot_stat::lead_ge_100ms);

}  // namespace

std::string_view name_of(merge_total t) noexcept {
  const auto i = static_cast<std::size_t>(t);
  return i < kTotalNames.size() ? kTotalNames[i] : "unknown";
}

std::string_view name_of(merge_slot_stat s) noexcept {
  const auto i = static_cast<std::size_t>(s);
  return i < kSlotNames.size() ? kSlotNames[i] : "unknown";
}

std::string merge_label(merge_total t) { return "merge." + std::string(name_of(t)); }

std::string merge_label(venue v, slot_id s, merge_slot_stat x, std::uint32_t group) {
  return "merge." + slot_path(v, s, group) + "." + std::string(name_of(x));
}

std::int64_t merger_counter_reader::read(entry& e) {
  if (segment_ == nullptr) return 0;
  if (e.id) {
    if (const auto v = segment_->value_if(*e.id, e.label)) return *v;
    e.id.reset();  // released or re-registered elsewhere (a restarted merger)
  }
  e.id = segment_->locate(e.label);
  if (!e.id) return 0;
  return segment_->value_if(*e.id, e.label).value_or(0);
}

std::int64_t merger_counter_reader::value(merge_total t) {
  entry& e = totals_[static_cast<std::size_t>(t)];
  if (e.label.empty()) e.label = merge_label(t);
  return read(e);
}

std::int64_t merger_counter_reader::value(venue v, slot_id s, merge_slot_stat x, std::uint32_t group) {
  const std::uint64_t key = (std::uint64_t{group} << 24) | (std::uint64_t{static_cast<std::uint8_t>(v)} << 16) |
                            (std::uint64_t{static_cast<std::uint8_t>(s)} << 8) | static_cast<std::uint8_t>(x);
  entry& e = slots_[key];
  if (e.label.empty()) e.label = merge_label(v, s, x, group);
  return read(e);
}

}  // namespace mdbus
