#pragma once
/// The arbiter's small shared helpers (arbiter.cpp, arbiter_backfill.cpp, arbiter_prime.cpp).
/// Internal to bus/merge.
#include "bus/merge/sequence_rule.hpp"
#include "mdbus/records.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>

namespace mdbus::merge::detail {

inline constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
/// A book waiting for its first snapshot asks one slot at most this long, then both: a start
/// of 500 books queues about 8 minutes of snapshots behind Binance's REST budget at one a book.
inline constexpr std::int64_t kAskOneMaxNs = 300'000'000'000;

inline std::size_t slot_index(slot_id s) noexcept { return s == slot_id::b ? 1 : 0; }

inline bool is_book(const record_view& r) noexcept {
  return r.header().type == record_type::book_delta || r.header().type == record_type::book_snapshot;
}

/// Book part flags of a book record; a non-book record is one whole part.
inline std::uint8_t part_flags(const record_view& r) noexcept {
  if (const auto b = r.book()) return b->fixed().book_flags & (kBookFirstPart | kBookLastPart);
  return kBookFirstPart | kBookLastPart;
}

/// The first sequence a record carries: what a gap record reports as "first after the hole",
/// and the order in which held holes are closed. Binance depth: U; everything else: its id.
inline std::uint64_t first_covered(const record_header& h, sequence_rule rule) noexcept {
  return rule == sequence_rule::range ? h.first_seq : h.seq;
}

}  // namespace mdbus::merge::detail
