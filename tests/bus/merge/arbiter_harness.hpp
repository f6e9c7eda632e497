#pragma once
// The arbiter tests' harness: an output that records what was published (and the resync and
// backfill requests), records of one stream built the way the adapters build them, and an
// arbiter driven with a test clock.
#include "bus/merge/arbiter.hpp"
#include "mdbus/venues/registry.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace mdbus::merge::testing {


constexpr std::int64_t kWindow = 3'000'000;

/// What the arbiter published, in order: records (with winner) and gaps.
struct recorded_output final : merge_output {
  struct item {
    bool is_gap = false;
    std::vector<std::byte> bytes;
    slot_id winner = slot_id::none;
    gap_record gap{};
  };
  std::vector<item> items;

  void publish(std::span<const std::byte> record, slot_id winner) noexcept override {
    items.push_back({false, {record.begin(), record.end()}, winner, {}});
  }
  void publish_gap(const gap_record& g) noexcept override { items.push_back({true, {}, slot_id::none, g}); }
  std::vector<std::string> resyncs;  ///< "okx/books/BTC-USDT" per request
  std::vector<slot_id> resync_asks;  ///< the slot each request asks (none: every feeder)
  void request_resync(venue v, channel c, std::string_view symbol, slot_id ask) noexcept override {
    resyncs.push_back(std::string(to_string(v)) + "/" + std::string(to_string(c)) + "/" + std::string(symbol));
    resync_asks.push_back(ask);
  }
  /// What request_backfill answers (false: as an output with no feeder to ask).
  bool backfill_reachable = false;
  struct backfill_request {
    std::string stream;
    std::uint64_t from = 0, to = 0;
    slot_id ask = slot_id::none;
    std::uint64_t skip = 0;
  };
  std::vector<backfill_request> backfills;
  bool request_backfill(venue v, channel c, std::string_view symbol, std::uint64_t from, std::uint64_t to,
                        slot_id ask, std::uint64_t skip) noexcept override {
    backfills.push_back(
        {std::string(to_string(v)) + "/" + std::string(to_string(c)) + "/" + std::string(symbol), from, to, ask, skip});
    return backfill_reachable;
  }

  /// "t5" for a record with seq 5, "gap(2>5)" for a gap: the output as one comparable string.
  [[nodiscard]] std::string trace() const {
    std::string s;
    for (const auto& i : items) {
      if (!s.empty()) s += ' ';
      if (i.is_gap) {
        s += "gap(" + std::to_string(i.gap.last_seq_held) + ">" + std::to_string(i.gap.first_seq_after) + ")";
        continue;
      }
      record_view v;
      REQUIRE(record_view::parse(i.bytes, v) == record_status::ok);
      s += std::to_string(v.header().seq);
      if (const auto b = v.book(); b && !(b->first_part() && b->last_part())) s += "p" + std::to_string(b->fixed().part_index);
      s += i.winner == slot_id::a ? "A" : "B";
      if ((v.header().flags & kHeaderBackfilled) != 0) s += "r";  // from the venue's history (REST)
    }
    return s;
  }
};

/// Records of one stream, built the way the adapters build them.
struct stream_maker {
  channel ch;
  const char* symbol;

  void stamp(record_header& h, slot_id slot) const {
    h.venue_id = venue_of(ch);
    h.channel_id = ch;
    h.slot = slot;
    h.set_symbol(symbol);
  }
  template <class R>
  R base(slot_id slot) const {
    R r = make_record<R>();
    stamp(r.header, slot);
    return r;
  }
  std::vector<std::byte> trade(std::uint64_t id, slot_id slot) const {
    auto r = base<trade_record>(slot);
    r.header.flags |= kHeaderHasSeq;
    r.header.seq = id;
    return bytes_of(r);
  }
  /// A trade fetched from the venue's history by slot's feeder (backfill).
  std::vector<std::byte> backfilled(std::uint64_t id, slot_id slot) const {
    auto r = base<trade_record>(slot);
    r.header.flags |= kHeaderHasSeq | kHeaderBackfilled;
    r.header.seq = id;
    return bytes_of(r);
  }
  /// An aggregated trade (OKX trades: one message per taker order, tradeId its last fill).
  std::vector<std::byte> aggregated(std::uint64_t id, std::uint32_t count, slot_id slot) const {
    auto r = base<trade_record>(slot);
    r.header.flags |= kHeaderHasSeq;
    r.header.seq = id;
    r.trade_count = count;
    return bytes_of(r);
  }
  /// A feeder's word that the window backfill it was asked (ids last + 1 .. first_after - 1) is in its ring.
  std::vector<std::byte> backfill_done(std::uint64_t last, std::uint64_t first_after, slot_id slot) const {
    auto g = base<gap_record>(slot);
    g.last_seq_held = last;
    g.first_seq_after = first_after;
    g.reason = gap_reason::backfill_done;
    return bytes_of(g);
  }
  /// A feeder's word that its backfill could not bring ids up to first_after - 1.
  std::vector<std::byte> backfill_failed(std::uint64_t last, std::uint64_t first_after, slot_id slot) const {
    auto g = base<gap_record>(slot);
    g.last_seq_held = last;
    g.first_seq_after = first_after;
    g.reason = gap_reason::backfill_failed;
    return bytes_of(g);
  }
  std::vector<std::byte> ticker(std::int64_t time, std::int64_t px, slot_id slot) const {
    auto r = base<bbo_record>(slot);  // OKX tickers carry no sequence: flags without kHeaderHasSeq
    r.header.venue_time_ns = time;
    r.bid.px_mantissa = px;
    return bytes_of(r);
  }
  std::vector<std::byte> mark(std::int64_t time, std::int64_t mark_px, slot_id slot) const {
    auto r = base<mark_funding_record>(slot);  // no venue id: the event time (ms) is the sequence
    r.header.venue_time_ns = time * 1'000'000;
    r.header.seq = static_cast<std::uint64_t>(time);
    r.header.flags |= kHeaderHasSeq;
    r.set_mark_px({mark_px, -2});
    r.set_funding_rate({10000, -8});
    return bytes_of(r);
  }
  std::vector<std::byte> book(record_type type, std::uint64_t first, std::uint64_t seq, std::int64_t prev, slot_id slot,
                              std::uint8_t flags = kBookFirstPart | kBookLastPart, std::uint16_t part = 0) const {
    book_record fixed = make_book_record(type);
    stamp(fixed.header, slot);
    fixed.header.flags |= kHeaderHasSeq;
    fixed.header.seq = seq;
    if (first != 0) {
      fixed.header.flags |= kHeaderHasFirstSeq;
      fixed.header.first_seq = first;
    }
    if (prev != kNoPrev) {
      fixed.header.flags |= kHeaderHasPrevSeq;
      fixed.header.prev_seq = prev;
    }
    fixed.book_flags = flags;
    fixed.part_index = part;
    std::vector<std::byte> out(book_record_size(1));
    book_level l{};
    l.side = book_side::bid;
    l.px_mantissa = static_cast<std::int64_t>(seq);
    REQUIRE(write_book_record(out, fixed, std::span<const book_level>(&l, 1)) == out.size());
    return out;
  }
  static constexpr std::int64_t kNoPrev = std::numeric_limits<std::int64_t>::min();
  /// OKX bbo-tbt: chained by seqId/prevSeqId, but a BBO, not a book delta.
  std::vector<std::byte> bbo(std::uint64_t seq, std::int64_t prev, slot_id slot) const {
    auto r = base<bbo_record>(slot);
    r.header.flags |= kHeaderHasSeq | kHeaderHasPrevSeq;
    r.header.seq = seq;
    r.header.prev_seq = prev;
    r.bid.px_mantissa = static_cast<std::int64_t>(seq);
    return bytes_of(r);
  }

  template <class R>
  static std::vector<std::byte> bytes_of(const R& r) {
    std::vector<std::byte> b(sizeof r);
    std::memcpy(b.data(), &r, sizeof r);
    return b;
  }
};

struct harness {
  recorded_output out;
  arbiter arb;
  std::int64_t now = 1'000'000'000;
  explicit harness(arbiter_options o = {}) : arb(with_test_sizes(o), out) {}
  static arbiter_options with_test_sizes(arbiter_options o) {
    o.hole_fill_window_ns = kWindow;
    o.max_streams = 8;  // the tests use a few streams; the default table is 1024
    return o;
  }

  void offer(const std::vector<std::byte>& bytes, slot_id from) {
    record_view v;
    REQUIRE(record_view::parse(bytes, v) == record_status::ok);
    arb.offer(v, from, now);
    now += 1000;
  }
  void wait_out_window() {
    now += kWindow;
    arb.tick(now);
  }
};

constexpr auto A = slot_id::a;
constexpr auto B = slot_id::b;

}  // namespace mdbus::merge::testing
