#pragma once
/// Header-only order-book builder for consumers: one `order_book` per book stream, and a
/// `book_set` that routes a consumer's records to them.
///
/// What it does with the bus's records:
/// * book_snapshot: the parts (part_index 0, 1, …, first / last flags) are collected aside
///   and replace the book only once the last part arrives; a missing or out-of-order part
///   leaves the book invalid (a part lost to a lapped read is caught by its index).
/// * book_delta: applied only while the book is valid and only if it chains onto the book
///   by the venue's own sequence rule — checked here again although the merger checks it,
///   because a consumer has its own way to lose records (a lap):
///     OKX (prev_seq present):  prevSeqId == last seqId; the first update after a snapshot
///                              joins when prevSeqId <= snapshot seqId < seqId
///                              (feeders/CONFORMANCE.md "Book joins", after the pushed
///                              snapshot's removal); seqId <= last is a stale copy.
///     Binance (first_seq present): u <= last is stale; U > last + 1 is a hole; else apply
///                              (the documented U/u procedure, feeders/CONFORMANCE.md "Book joins").
///   A delta that does not chain makes the book invalid until the next snapshot.
/// * OKX checksum (kBookChecksumPresent): recomputed over the top 25 levels after every
///   snapshot and delta and compared; a mismatch makes the book invalid.
/// * gap records (book_set): the named stream's book is invalid until its next snapshot;
///   a lap (book_set::on_lap) invalidates every book.
///
/// Storage: each side is a sorted vector with the best level at the back, so the common
/// change near the top of the book moves a few elements; lookups are binary searches with
/// exact decimal comparison. Levels keep the venue's mantissa and exponent (the checksum
/// needs the venue's text). No allocation once a side's reserved capacity suffices.
#include "mdbus/decimal.hpp"
#include "mdbus/records.hpp"
#include "mdbus/okx_checksum.hpp"
#include "mdbus/venues/registry.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mdbus {

struct price_level {
  decimal px;
  decimal qty;
};

enum class book_state : std::uint8_t {
  empty,    ///< no snapshot yet
  valid,    ///< built from a snapshot and every delta since, in sequence
  invalid,  ///< lost continuity (see invalid_reason); waits for the next snapshot
};

enum class invalid_reason : std::uint8_t {
  none,
  sequence_break,       ///< a delta did not chain onto the book
  checksum_mismatch,    ///< the venue checksum disagreed with the book
  snapshot_incomplete,  ///< a snapshot part was missing or out of order
  gap_record,           ///< the bus published a gap for this stream
  lapped,               ///< the consumer fell a ring behind: records may be lost
};

/// What apply() did with one record.
enum class book_event : std::uint8_t {
  applied,              ///< a delta, or the last part of a snapshot, is now in the book
  snapshot_part,        ///< a snapshot part was stored; the book changes at the last part
  stale,                ///< a delta the book already contains (seq <= last): ignored
  not_ready,            ///< a delta while the book is not valid: dropped
  sequence_break,       ///< the delta does not chain: the book is now invalid
  checksum_mismatch,    ///< the checksum failed after applying: the book is now invalid
  snapshot_incomplete,  ///< a snapshot part out of order: the book is now invalid
  invalidated,          ///< (book_set) a gap record made the stream's book invalid
  ignored,              ///< (book_set) not a book or gap record
};

struct order_book_options {
  bool validate_checksum = true;       ///< check kBookChecksumPresent records (OKX)
  std::size_t reserve_levels = 1024;   ///< per side, reserved up front
};

struct order_book_stats {
  std::uint64_t snapshots = 0;           ///< complete snapshots applied
  std::uint64_t deltas = 0;              ///< deltas applied
  std::uint64_t stale = 0;
  std::uint64_t dropped_not_ready = 0;
  std::uint64_t sequence_breaks = 0;
  std::uint64_t checksums_verified = 0;
  std::uint64_t checksum_failures = 0;
  std::uint64_t invalidations = 0;       ///< every transition to invalid, whatever the reason
};

class order_book {
 public:
  explicit order_book(const order_book_options& o = {}) : options_(o) {
    for (auto* v : {&bids_, &asks_, &stage_bids_, &stage_asks_}) v->reserve(o.reserve_levels);
  }

  /// Apply one book record (delta or snapshot part) of this book's stream. Allocates only
  /// when a side outgrows its reserved capacity.
  book_event apply(const book_view& b) {
    return b.is_snapshot() ? apply_snapshot_part(b) : apply_delta(b);
  }

  /// Mark the book unusable until the next snapshot (gap records, laps).
  void invalidate(invalid_reason why) noexcept {
    if (state_ != book_state::invalid) ++stats_.invalidations;
    state_ = book_state::invalid;
    why_ = why;
    staging_ = false;
  }

  [[nodiscard]] book_state state() const noexcept { return state_; }
  [[nodiscard]] bool valid() const noexcept { return state_ == book_state::valid; }
  [[nodiscard]] invalid_reason why_invalid() const noexcept { return why_; }
  /// header.seq of the last snapshot or delta applied (Binance u / lastUpdateId, OKX seqId).
  [[nodiscard]] std::uint64_t last_seq() const noexcept { return last_seq_; }
  /// venue_time_ns, receive_time_ns and publish_time_ns of the last record applied.
  [[nodiscard]] const record_header& last_header() const noexcept { return last_header_; }
  [[nodiscard]] const order_book_stats& stats() const noexcept { return stats_; }

  [[nodiscard]] std::size_t depth(book_side s) const noexcept { return side(s).size(); }
  /// Level i counted from the best (0 = best); a zero level when i >= depth(s).
  [[nodiscard]] price_level level(book_side s, std::size_t i) const noexcept {
    const auto& v = side(s);
    return i < v.size() ? v[v.size() - 1 - i] : price_level{};
  }
  [[nodiscard]] std::optional<price_level> best(book_side s) const noexcept {
    const auto& v = side(s);
    if (v.empty()) return std::nullopt;
    return v.back();
  }
  /// Quantity at exactly this price (any representation), or nullopt.
  [[nodiscard]] std::optional<decimal> qty_at(book_side s, decimal px) const noexcept {
    const auto& v = side(s);
    const auto it = find(v, s, px);
    if (it == v.end() || it->px != px) return std::nullopt;
    return it->qty;
  }
  /// f(const price_level&) for up to n levels, best first.
  template <class F>
  void for_each_level(book_side s, std::size_t n, F&& f) const {
    const auto& v = side(s);
    for (auto it = v.rbegin(); it != v.rend() && n > 0; ++it, --n) f(*it);
  }

  /// The OKX checksum of the book as it is now (top 25 levels).
  [[nodiscard]] std::int32_t okx_checksum() const noexcept {
    return mdbus::okx_checksum(
        bids_.size(), [this](std::size_t i) { return bids_[bids_.size() - 1 - i]; }, asks_.size(),
        [this](std::size_t i) { return asks_[asks_.size() - 1 - i]; });
  }

 private:
  using side_vector = std::vector<price_level>;

  [[nodiscard]] const side_vector& side(book_side s) const noexcept { return s == book_side::bid ? bids_ : asks_; }

  /// Bids are kept ascending and asks descending, so the best of each is at the back.
  static bool before(book_side s, decimal a, decimal b) noexcept { return s == book_side::bid ? a < b : b < a; }

  static side_vector::const_iterator find(const side_vector& v, book_side s, decimal px) noexcept {
    return std::lower_bound(v.begin(), v.end(), px,
                            [s](const price_level& l, decimal p) { return before(s, l.px, p); });
  }

  static void set_level(side_vector& v, book_side s, decimal px, decimal qty) {
    auto it = v.begin() + (find(v, s, px) - v.cbegin());
    const bool present = it != v.end() && it->px == px;
    if (is_zero(qty)) {
      if (present) v.erase(it);
    } else if (present) {
      *it = {px, qty};  // the venue's latest text of the price too
    } else {
      v.insert(it, {px, qty});
    }
  }

  book_event apply_snapshot_part(const book_view& b) {
    const book_record& f = b.fixed();
    if (b.first_part()) {
      if (f.part_index != 0) return broken_snapshot();
      staging_ = true;
      stage_header_ = f.header;
      next_part_ = 0;
      stage_bids_.clear();
      stage_asks_.clear();
    } else if (!staging_ || f.part_index != next_part_ || f.header.seq != stage_header_.seq) {
      return broken_snapshot();
    }
    ++next_part_;
    for (std::size_t i = 0; i < b.level_count(); ++i) {
      const book_level l = b.level(i);
      if (is_zero(l.qty())) continue;  // a snapshot lists levels that exist
      if (l.side == book_side::bid) stage_bids_.push_back({l.px(), l.qty()});
      if (l.side == book_side::ask) stage_asks_.push_back({l.px(), l.qty()});
    }
    if (!b.last_part()) return book_event::snapshot_part;

    staging_ = false;
    finish_side(stage_bids_, book_side::bid);
    finish_side(stage_asks_, book_side::ask);
    bids_.swap(stage_bids_);
    asks_.swap(stage_asks_);
    state_ = book_state::valid;
    why_ = invalid_reason::none;
    have_seq_ = (f.header.flags & kHeaderHasSeq) != 0;
    last_seq_ = f.header.seq;
    joined_ = false;
    last_header_ = f.header;
    ++stats_.snapshots;
    return check_sum(b);
  }

  /// Sort a collected side into book order; a price listed twice keeps its last entry.
  static void finish_side(side_vector& v, book_side s) {
    std::stable_sort(v.begin(), v.end(), [s](const price_level& a, const price_level& b) { return before(s, a.px, b.px); });
    // Keep the last of each run of equal prices (stable sort kept arrival order in a run).
    std::size_t out = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i + 1 < v.size() && v[i + 1].px == v[i].px) continue;
      v[out++] = v[i];
    }
    v.resize(out);
  }

  book_event broken_snapshot() noexcept {
    invalidate(invalid_reason::snapshot_incomplete);
    return book_event::snapshot_incomplete;
  }

  enum class chain { ok, stale, hole };

  /// The venue's continuity rule for a delta against the book (see the file comment).
  [[nodiscard]] chain chains(const record_header& h) const noexcept {
    if ((h.flags & kHeaderHasSeq) == 0 || !have_seq_) return chain::ok;  // nothing to check (old captures)
    const std::uint64_t seq = h.seq;
    if ((h.flags & kHeaderHasPrevSeq) != 0) {
      // OKX: prev == last first, so a sequence reset (seqId < prevSeqId, CONFORMANCE.md) and the
      // heartbeat (prevSeqId == seqId == last) both chain.
      if (joined_ && h.prev_seq == static_cast<std::int64_t>(last_seq_)) return chain::ok;
      if (seq <= last_seq_) return chain::stale;
      if (!joined_ && h.prev_seq <= static_cast<std::int64_t>(last_seq_)) return chain::ok;
      return chain::hole;
    }
    if (seq <= last_seq_) return chain::stale;
    if ((h.flags & kHeaderHasFirstSeq) != 0 && h.first_seq > last_seq_ + 1) return chain::hole;
    return chain::ok;
  }

  book_event apply_delta(const book_view& b) {
    if (state_ != book_state::valid) {
      ++stats_.dropped_not_ready;
      return book_event::not_ready;
    }
    const record_header& h = b.header();
    switch (chains(h)) {
      case chain::stale:
        ++stats_.stale;
        return book_event::stale;
      case chain::hole:
        ++stats_.sequence_breaks;
        invalidate(invalid_reason::sequence_break);
        return book_event::sequence_break;
      case chain::ok:
        break;
    }
    for (std::size_t i = 0; i < b.level_count(); ++i) {
      const book_level l = b.level(i);
      if (l.side == book_side::bid) set_level(bids_, book_side::bid, l.px(), l.qty());
      if (l.side == book_side::ask) set_level(asks_, book_side::ask, l.px(), l.qty());
    }
    if ((h.flags & kHeaderHasSeq) != 0) last_seq_ = h.seq;
    joined_ = true;
    last_header_ = h;
    ++stats_.deltas;
    return check_sum(b);
  }

  book_event check_sum(const book_view& b) noexcept {
    const auto expected = b.checksum();
    if (!options_.validate_checksum || !expected) return book_event::applied;
    if (okx_checksum() == *expected) {
      ++stats_.checksums_verified;
      return book_event::applied;
    }
    ++stats_.checksum_failures;
    invalidate(invalid_reason::checksum_mismatch);
    return book_event::checksum_mismatch;
  }

  order_book_options options_;
  side_vector bids_, asks_;              ///< live book, best at the back
  side_vector stage_bids_, stage_asks_;  ///< a snapshot being collected
  book_state state_ = book_state::empty;
  invalid_reason why_ = invalid_reason::none;
  bool staging_ = false;
  std::uint16_t next_part_ = 0;
  record_header stage_header_{};
  record_header last_header_{};
  std::uint64_t last_seq_ = 0;
  bool have_seq_ = false;
  bool joined_ = false;  ///< a delta has been applied since the last snapshot
  order_book_stats stats_;
};

/// The books of every book stream a consumer sees, created on first sight and keyed by
/// (channel, symbol) — the channel implies the venue, and two channels of one instrument
/// (OKX books and books5) are different books.
class book_set {
 public:
  struct key {
    channel ch = channel::unknown;
    std::array<char, kSymbolCapacity> symbol{};
    bool operator==(const key&) const = default;
  };

  explicit book_set(const order_book_options& o = {}) : options_(o) {}

  /// Book records go to their stream's book; gap records invalidate the books they name
  /// (a gap without a symbol: every book of its venue and channel, or of its venue when the
  /// channel is unknown; a gap of unknown venue — a loss of unknown scope, e.g. a replayed
  /// recording's hole — every book). Other records are ignored. `touched` (optional) gets a book.
  book_event apply(const record_view& r, order_book** touched = nullptr) {
    if (touched != nullptr) *touched = nullptr;
    const record_header& h = r.header();
    if (h.type == record_type::gap) {
      bool any = false;
      for (auto& [k, book] : books_) {
        if (h.venue_id != venue::unknown && venue_of(k.ch) != h.venue_id) continue;
        if (h.channel_id != channel::unknown && k.ch != h.channel_id) continue;
        if (h.symbol[0] != '\0' && std::memcmp(k.symbol.data(), h.symbol, kSymbolCapacity) != 0) continue;
        book.invalidate(invalid_reason::gap_record);
        any = true;
        if (touched != nullptr) *touched = &book;
      }
      return any ? book_event::invalidated : book_event::ignored;
    }
    const auto b = r.book();
    if (!b) return book_event::ignored;
    key k{h.channel_id, {}};
    std::memcpy(k.symbol.data(), h.symbol, kSymbolCapacity);
    auto it = books_.find(k);
    if (it == books_.end()) it = books_.emplace(k, order_book(options_)).first;
    if (touched != nullptr) *touched = &it->second;
    return it->second.apply(*b);
  }

  /// The consumer was lapped: any book may have missed records.
  void on_lap() noexcept {
    for (auto& [k, book] : books_) book.invalidate(invalid_reason::lapped);
  }

  [[nodiscard]] order_book* find(channel ch, std::string_view symbol) noexcept {
    key k{ch, {}};
    std::memcpy(k.symbol.data(), symbol.data(), std::min(symbol.size(), kSymbolCapacity));
    const auto it = books_.find(k);
    return it == books_.end() ? nullptr : &it->second;
  }
  [[nodiscard]] std::size_t size() const noexcept { return books_.size(); }

  /// f(channel, std::string_view symbol, const order_book&) for every book.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [k, book] : books_) {
      const void* nul = std::memchr(k.symbol.data(), 0, kSymbolCapacity);
      const std::size_t n = nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - k.symbol.data()) : kSymbolCapacity;
      f(k.ch, std::string_view(k.symbol.data(), n), book);
    }
  }

 private:
  struct key_hash {
    std::size_t operator()(const key& k) const noexcept {
      std::uint64_t h = 0xcbf29ce484222325ULL ^ static_cast<std::uint8_t>(k.ch);  // FNV-1a
      for (const char c : k.symbol) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
      return static_cast<std::size_t>(h);
    }
  };

  order_book_options options_;
  std::unordered_map<key, order_book, key_hash> books_;  ///< node-based: book addresses are stable
};

[[nodiscard]] constexpr std::string_view to_string(book_event e) noexcept {
  switch (e) {
    case book_event::applied: return "applied";
    case book_event::snapshot_part: return "snapshot_part";
    case book_event::stale: return "stale";
    case book_event::not_ready: return "not_ready";
    case book_event::sequence_break: return "sequence_break";
    case book_event::checksum_mismatch: return "checksum_mismatch";
    case book_event::snapshot_incomplete: return "snapshot_incomplete";
    case book_event::invalidated: return "invalidated";
    case book_event::ignored: return "ignored";
  }
  return "unknown";
}

[[nodiscard]] constexpr std::string_view to_string(invalid_reason r) noexcept {
  switch (r) {
    case invalid_reason::none: return "none";
    case invalid_reason::sequence_break: return "sequence_break";
    case invalid_reason::checksum_mismatch: return "checksum_mismatch";
    case invalid_reason::snapshot_incomplete: return "snapshot_incomplete";
    case invalid_reason::gap_record: return "gap_record";
    case invalid_reason::lapped: return "lapped";
  }
  return "unknown";
}

}  // namespace mdbus
