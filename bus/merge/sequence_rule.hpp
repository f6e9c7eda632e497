#pragma once
/// How the merger tells a duplicate from a hole on one stream: DESIGN.md's arbitration
/// table as data. The rule comes from the channel; the record's header flags say which
/// sequence fields it actually carries, so a record that lacks the field a rule needs
/// falls back to the weaker rule instead of being misjudged.
#include "bus/records.hpp"
#include "bus/venue.hpp"

#include <cstdint>

namespace mdbus::merge {

enum class sequence_rule : std::uint8_t {
  /// Ids count up by one per message (Binance trade `t`, aggTrade `a`):
  /// duplicate when id <= last, hole when id > last + 1.
  consecutive,
  /// Each message covers first..last ids (Binance diff depth `U`..`u`):
  /// duplicate when u <= last, hole when U > last + 1.
  range,
  /// Each message names its predecessor (OKX books, books-l2-tbt, bbo-tbt `seqId`/`prevSeqId`;
  /// Binance futures `pu`): duplicate when seq <= last, hole when prev != last.
  chained,
  /// Ids only increase, gaps are normal (Binance bookTicker `u`, OKX trades `tradeId`,
  /// partial books): duplicate when id <= last, holes not detectable.
  increasing,
  /// No sequence at all (OKX tickers): duplicate when the same event time and content were
  /// published within a bounded window.
  content,
};

[[nodiscard]] constexpr sequence_rule rule_for_channel(channel c) noexcept {
  switch (c) {
    case channel::binance_trade:
    case channel::binance_agg_trade: return sequence_rule::consecutive;
    case channel::binance_depth: return sequence_rule::range;
    case channel::okx_books:
    case channel::okx_books_l2_tbt:
    case channel::okx_bbo_tbt: return sequence_rule::chained;
    case channel::binance_book_ticker:
    case channel::binance_depth_partial:
    case channel::okx_trades:
    case channel::okx_books5: return sequence_rule::increasing;
    case channel::okx_tickers:
    case channel::unknown: break;
  }
  return sequence_rule::content;
}

/// How the first delta after a snapshot joins it — each venue documents its own rule, and it
/// is not the chain rule (the snapshot is not a message of the stream).
enum class join_rule : std::uint8_t {
  /// The chain rule applies unchanged from the snapshot's sequence.
  chain,
  /// Binance spot diff depth (web-socket-streams.md "How to manage a local order book
  /// correctly", as corrected 2025-11-12): drop events with u <= lastUpdateId; the first kept
  /// one covers the snapshot, U <= lastUpdateId + 1 <= u. The `range` rule already reads so.
  covers,
  /// OKX books after the snapshot push was delisted (OKX v5 "Order book channel" and the
  /// changelog "Delist initial snapshot and checksum field in order book channels", production
  /// from August 2026): the first update applied has prevSeqId <= snapshot seqId < seqId;
  /// updates with seqId <= snapshot seqId are covered by the snapshot. A pushed snapshot's
  /// first update (prevSeqId == its seqId) satisfies the same rule.
  straddles,
};

[[nodiscard]] constexpr join_rule join_rule_for_channel(channel c) noexcept {
  switch (c) {
    case channel::binance_depth: return join_rule::covers;
    case channel::okx_books:
    case channel::okx_books_l2_tbt: return join_rule::straddles;
    default: break;
  }
  return join_rule::chain;
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
