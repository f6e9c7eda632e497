#pragma once
/// How the merger tells a duplicate from a hole on one stream: the arbitration table of
/// ARCHITECTURE.md ("Arbitration") as data. The rule comes from the channel (its venue's
/// descriptor); the record's header flags say which sequence fields it actually carries, so
/// a record that lacks the field a rule needs falls back to the weaker rule instead of being
/// misjudged.
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"
#include "mdbus/venues/registry.hpp"

#include <cstdint>

namespace mdbus::merge {

// The rules themselves are venue data: each venue's descriptor declares its channels'
// sequence and join rules (bus/venues/<venue>.hpp, read through bus/include/mdbus/venues/registry.hpp).
using mdbus::join_rule;
using mdbus::sequence_rule;

[[nodiscard]] constexpr sequence_rule rule_for_channel(channel c) noexcept {
  return venue_of(c) != venue::unknown ? channel_rule_of(c).rule : sequence_rule::content;
}

[[nodiscard]] constexpr join_rule join_rule_for_channel(channel c) noexcept {
  return venue_of(c) != venue::unknown ? channel_rule_of(c).join : join_rule::chain;
}

/// The rule for one record: the channel's rule, weakened to what the header carries.
[[nodiscard]] constexpr sequence_rule rule_for(const record_header& h) noexcept {
  if ((h.flags & kHeaderHasSeq) == 0) return sequence_rule::content;
  const sequence_rule r = rule_for_channel(h.channel_id);
  if (r == sequence_rule::chained && (h.flags & kHeaderHasPrevSeq) == 0) return sequence_rule::increasing;
  if (r == sequence_rule::range && (h.flags & kHeaderHasPrevSeq) != 0) return sequence_rule::chained;  // futures pu
  if (r == sequence_rule::range && (h.flags & kHeaderHasFirstSeq) == 0) return sequence_rule::increasing;
  if (r == sequence_rule::content) return sequence_rule::increasing;  // a sequence we have no rule for: still dedup by it
  return r;
}

}  // namespace mdbus::merge
