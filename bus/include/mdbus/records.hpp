#pragma once
/// The normalized records every process on the bus shares: feeders write them into their
/// SPSC rings, the merger arbitrates and republishes them, consumers and tools read them.
/// Fixed layouts, little-endian, trivially copyable, every field at a fixed offset with
/// explicit padding (no implicit padding: a record's bytes are fully defined, so frames
/// can be compared, hashed and recorded byte for byte). One version constant covers all.
///
/// Reading never trusts the bytes: record_view validates size, version, type and level
/// count before any typed access, and typed access copies (memcpy) out of the buffer, so a
/// frame at any alignment, or one that is corrupt, can never cause undefined behaviour.
///
/// Enum values are part of the layout: never renumber, only append.
#include "mdbus/decimal.hpp"
#include "mdbus/venue.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace mdbus {

static_assert(std::endian::native == std::endian::little, "records are little-endian, stored as native structs");

/// Bumped on any change to any record layout or enum numbering.
inline constexpr std::uint8_t kRecordLayoutVersion = 1;

/// record_header::size is a u16, so no record exceeds this.
inline constexpr std::size_t kMaxRecordSize = 65535;

enum class record_type : std::uint8_t {
  trade = 1,
  bbo = 2,
  book_delta = 3,
  book_snapshot = 4,
  gap = 5,
  slot_status = 6,
  mark_funding = 7,  ///< perpetuals: mark price, index price, funding rate (appended in issue 14)
  instrument = 8,    ///< reference data: contract value, tick and lot size (appended in issue 14)
};

/// The highest record_type value: readers accept 1..kLastRecordType.
inline constexpr record_type kLastRecordType = record_type::instrument;

/// Which connection slot produced (feeder) or won (merger) the record.
enum class slot_id : std::uint8_t { a = 0, b = 1, none = 0xFF };

/// record_header::flags bits.
inline constexpr std::uint8_t kHeaderSymbolTruncated = 0x01;  ///< set_symbol had to cut the name
inline constexpr std::uint8_t kHeaderHasSeq = 0x02;           ///< `seq` holds a venue sequence (OKX tickers have none)
inline constexpr std::uint8_t kHeaderHasFirstSeq = 0x04;      ///< `first_seq` is meaningful
/// `prev_seq` is meaningful. A flag rather than a sentinel because every i64 value is a
/// real prevSeqId: OKX snapshots carry -1.
inline constexpr std::uint8_t kHeaderHasPrevSeq = 0x08;
inline constexpr std::uint8_t kHeaderFromRest = 0x10;  ///< came from a REST snapshot, not the stream
/// A trade the merger asked for after a hole no slot filled: fetched from the venue's trade
/// history over REST (issue 16, backfill), published in sequence like the stream's own. Its
/// venue_time_ns is the trade time (the history has no event time).
inline constexpr std::uint8_t kHeaderBackfilled = 0x20;

/// 23 characters cover the longest OKX instrument ids (options: "BTC-USD-250926-100000-C").
inline constexpr std::size_t kSymbolCapacity = 24;

/// Starts every record. 80 bytes: ten 8-byte words, so every 64-bit field is naturally
/// aligned and the fixed fields of a trade or BBO follow on the second cache line.
struct record_header {
  std::uint16_t size;    ///< whole record in bytes: header, body and trailing levels
  std::uint8_t version;  ///< kRecordLayoutVersion
  record_type type;
  venue venue_id;
  channel channel_id;
  slot_id slot;
  std::uint8_t flags;            ///< kHeader* bits
  char symbol[kSymbolCapacity];  ///< venue spelling, NUL-padded; all 24 bytes used means no NUL
  std::uint64_t seq;             ///< primary venue id: Binance t / a / u, OKX tradeId / seqId
  std::uint64_t first_seq;       ///< Binance depth U, aggTrade f
  std::int64_t prev_seq;         ///< OKX prevSeqId (-1 on snapshots), Binance futures pu
  std::int64_t venue_time_ns;    ///< venue event time (Binance E, OKX ts); 0 when the venue sends none
  std::int64_t receive_time_ns;  ///< stamped by the feeder when the frame arrived
  std::int64_t publish_time_ns;  ///< stamped by the merger when it published the record

  /// Store `s` NUL-padded. Returns false (and sets kHeaderSymbolTruncated) when `s` is
  /// longer than kSymbolCapacity or contains a NUL, i.e. when symbol_view() will not give
  /// `s` back; true clears the flag.
  bool set_symbol(std::string_view s) noexcept {
    const std::size_t n = s.size() < kSymbolCapacity ? s.size() : kSymbolCapacity;
    std::memset(symbol, 0, kSymbolCapacity);
    if (n == 0) {  // a default string_view has a null data(), which memcpy must not see
      flags = static_cast<std::uint8_t>(flags & ~kHeaderSymbolTruncated);
      return true;
    }
    std::memcpy(symbol, s.data(), n);
    bool whole = s.size() <= kSymbolCapacity;
    for (std::size_t i = 0; i < n; ++i) whole &= s[i] != '\0';  // a few bytes: no call to memchr
    flags = static_cast<std::uint8_t>(whole ? flags & ~kHeaderSymbolTruncated : flags | kHeaderSymbolTruncated);
    return whole;
  }
  /// The symbol up to the first NUL, never past the array (safe on corrupt bytes). Points
  /// into this header: valid while the header lives.
  [[nodiscard]] std::string_view symbol_view() const noexcept {
    const void* nul = std::memchr(symbol, 0, kSymbolCapacity);
    return {symbol, nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - symbol) : kSymbolCapacity};
  }
};
static_assert(sizeof(record_header) == 80);
static_assert(alignof(record_header) == 8);
static_assert(std::is_trivially_copyable_v<record_header> && std::is_standard_layout_v<record_header>);
static_assert(offsetof(record_header, size) == 0);
static_assert(offsetof(record_header, version) == 2);
static_assert(offsetof(record_header, type) == 3);
static_assert(offsetof(record_header, venue_id) == 4);
static_assert(offsetof(record_header, channel_id) == 5);
static_assert(offsetof(record_header, slot) == 6);
static_assert(offsetof(record_header, flags) == 7);
static_assert(offsetof(record_header, symbol) == 8);
static_assert(offsetof(record_header, seq) == 32);
static_assert(offsetof(record_header, first_seq) == 40);
static_assert(offsetof(record_header, prev_seq) == 48);
static_assert(offsetof(record_header, venue_time_ns) == 56);
static_assert(offsetof(record_header, receive_time_ns) == 64);
static_assert(offsetof(record_header, publish_time_ns) == 72);

enum class book_side : std::uint8_t { unknown = 0, bid = 1, ask = 2 };

/// Taker side. Binance `m` (buyer is maker) true means the seller was the taker.
enum class aggressor_side : std::uint8_t { unknown = 0, buy = 1, sell = 2 };

/// A price level packed without the padding two `decimal`s would carry: both mantissas
/// first, then the two exponents and the side. 24 bytes, 8-aligned, so a level array
/// needs no padding between elements.
struct book_level {
  std::int64_t px_mantissa;
  std::int64_t qty_mantissa;  ///< absolute quantity; 0 deletes the level in a delta
  std::int8_t px_exponent;
  std::int8_t qty_exponent;
  book_side side;
  std::uint8_t pad[5];

  [[nodiscard]] constexpr decimal px() const noexcept { return {px_mantissa, px_exponent}; }
  [[nodiscard]] constexpr decimal qty() const noexcept { return {qty_mantissa, qty_exponent}; }
};
static_assert(sizeof(book_level) == 24);
static_assert(alignof(book_level) == 8);
static_assert(std::is_trivially_copyable_v<book_level> && std::is_standard_layout_v<book_level>);
static_assert(offsetof(book_level, qty_mantissa) == 8);
static_assert(offsetof(book_level, px_exponent) == 16);
static_assert(offsetof(book_level, qty_exponent) == 17);
static_assert(offsetof(book_level, side) == 18);

[[nodiscard]] constexpr book_level make_level(book_side side, decimal px, decimal qty) noexcept {
  book_level l{};
  l.px_mantissa = px.mantissa;
  l.px_exponent = px.exponent;
  l.qty_mantissa = qty.mantissa;
  l.qty_exponent = qty.exponent;
  l.side = side;
  return l;
}

/// One venue trade or aggregated trade.
struct trade_record {
  static constexpr record_type kType = record_type::trade;
  record_header header;  ///< seq = trade id (Binance t or a, OKX tradeId)
  std::int64_t px_mantissa;
  std::int64_t qty_mantissa;
  std::uint64_t first_trade_id;  ///< Binance aggTrade f; 0 when not applicable
  std::uint64_t last_trade_id;   ///< Binance aggTrade l; 0 when not applicable
  /// Venue trades this record stands for: OKX `count`, aggTrade l - f + 1, 1 for a plain
  /// trade; 0 when unknown.
  std::uint32_t trade_count;
  std::int8_t px_exponent;
  std::int8_t qty_exponent;
  aggressor_side aggressor;
  std::uint8_t pad;

  [[nodiscard]] constexpr decimal px() const noexcept { return {px_mantissa, px_exponent}; }
  [[nodiscard]] constexpr decimal qty() const noexcept { return {qty_mantissa, qty_exponent}; }
  constexpr void set_px(decimal d) noexcept {
    px_mantissa = d.mantissa;
    px_exponent = d.exponent;
  }
  constexpr void set_qty(decimal d) noexcept {
    qty_mantissa = d.mantissa;
    qty_exponent = d.exponent;
  }
};
static_assert(sizeof(trade_record) == 120);
static_assert(alignof(trade_record) == 8);
static_assert(std::is_trivially_copyable_v<trade_record> && std::is_standard_layout_v<trade_record>);
static_assert(offsetof(trade_record, px_mantissa) == 80);
static_assert(offsetof(trade_record, qty_mantissa) == 88);
static_assert(offsetof(trade_record, first_trade_id) == 96);
static_assert(offsetof(trade_record, last_trade_id) == 104);
static_assert(offsetof(trade_record, trade_count) == 112);
static_assert(offsetof(trade_record, px_exponent) == 116);
static_assert(offsetof(trade_record, qty_exponent) == 117);
static_assert(offsetof(trade_record, aggressor) == 118);

/// Best bid and offer. The update id (Binance bookTicker u, OKX bbo-tbt seqId) is header.seq.
/// A missing side (empty book) has qty 0.
struct bbo_record {
  static constexpr record_type kType = record_type::bbo;
  record_header header;
  book_level bid;  ///< side = bid
  book_level ask;  ///< side = ask
};
static_assert(sizeof(bbo_record) == 128);
static_assert(alignof(bbo_record) == 8);
static_assert(std::is_trivially_copyable_v<bbo_record> && std::is_standard_layout_v<bbo_record>);
static_assert(offsetof(bbo_record, bid) == 80);
static_assert(offsetof(bbo_record, ask) == 104);

/// book_record::book_flags bits.
inline constexpr std::uint8_t kBookChecksumPresent = 0x01;  ///< `checksum` is the venue's (OKX), validate it
inline constexpr std::uint8_t kBookFirstPart = 0x02;        ///< first record of a snapshot (or a whole delta)
inline constexpr std::uint8_t kBookLastPart = 0x04;         ///< last record of a snapshot (or a whole delta)

/// Fixed part of a book_delta or book_snapshot record; `level_count` book_levels follow
/// directly at offset 96. Header fields: first_seq = Binance U, seq = Binance u / OKX
/// seqId, prev_seq = OKX prevSeqId / Binance futures pu. A delta is one record (first and
/// last part). A snapshot too large for one frame (Binance REST: 5000 levels a side) is
/// split into parts with the same header sequence fields, part_index 0, 1, …, the first
/// flagged kBookFirstPart, the last kBookLastPart: a consumer rebuilds only once it holds
/// every part, so a part lost to a lapped read is detected by the index.
struct book_record {
  record_header header;
  std::int32_t checksum;      ///< OKX CRC32 (signed) when kBookChecksumPresent
  std::uint16_t level_count;  ///< levels following this struct
  std::uint16_t part_index;   ///< 0-based part of a split snapshot; 0 for a delta
  std::uint8_t book_flags;    ///< kBook* bits
  std::uint8_t pad[7];
};
static_assert(sizeof(book_record) == 96);
static_assert(alignof(book_record) == 8);
static_assert(std::is_trivially_copyable_v<book_record> && std::is_standard_layout_v<book_record>);
static_assert(offsetof(book_record, checksum) == 80);
static_assert(offsetof(book_record, level_count) == 84);
static_assert(offsetof(book_record, part_index) == 86);
static_assert(offsetof(book_record, book_flags) == 88);

/// Bytes of a book record holding `levels` levels.
[[nodiscard]] constexpr std::size_t book_record_size(std::size_t levels) noexcept {
  return sizeof(book_record) + levels * sizeof(book_level);
}

/// Most levels one book record can hold (2726): the size must fit record_header::size.
inline constexpr std::size_t kMaxBookLevelsPerRecord = (kMaxRecordSize - sizeof(book_record)) / sizeof(book_level);
static_assert(book_record_size(kMaxBookLevelsPerRecord) <= kMaxRecordSize);
static_assert(book_record_size(kMaxBookLevelsPerRecord + 1) > kMaxRecordSize);

/// Levels per record when frames carry at most `max_payload` bytes (a ring's geometry):
/// what a snapshot splitter uses. 0 when not even the fixed part fits.
[[nodiscard]] constexpr std::size_t book_levels_per_record(std::size_t max_payload) noexcept {
  if (max_payload < sizeof(book_record)) return 0;
  const std::size_t n = (max_payload - sizeof(book_record)) / sizeof(book_level);
  return n < kMaxBookLevelsPerRecord ? n : kMaxBookLevelsPerRecord;
}

enum class gap_reason : std::uint8_t {
  unknown = 0,
  hole_timeout = 1,       ///< a hole on one slot was not filled by the other in time
  ring_overflow = 2,      ///< a feeder ring was full and dropped frames
  both_slots_down = 3,    ///< no slot connected: the stream had no source
  merger_restart = 4,     ///< the merger restarted and cannot prove continuity
  sequence_reset = 5,     ///< the venue reset its sequence (OKX maintenance: seqId < prevSeqId)
  checksum_mismatch = 6,  ///< the rebuilt book failed the venue checksum: resync
  resync = 7,             ///< book continuity broken (Binance U > last + 1): resync from snapshot
  malformed_message = 8,  ///< a venue message could not be decoded and was dropped
  /// Backfill (issue 16) could not recover these trades: the REST request failed, or the venue
  /// no longer keeps them. A feeder writes one into its ring to tell the merger so.
  backfill_failed = 9,
  backfill_timeout = 10,  ///< backfill did not bring these trades within the merger's bound
  /// Every slot carrying the stream was down at once, and its ids cannot show what it missed
  /// (OKX trades, bbo-tbt, tickers, Binance bookTicker, mark prices): messages between
  /// header.venue_time_ns and venue_time_ns + held_ns may be lost. last_seq_held is the last id
  /// published before (0 if none), first_seq_after 0 (unknown). Published by the merger when
  /// the first slot is up again (issue 16: loss is never silent on any stream). OKX trades'
  /// window is then backfilled: the venue's fills follow (kHeaderBackfilled, one record each).
  suspect_window = 11,
  /// A feeder's word, never published: the backfill it was asked for is complete in its ring
  /// before this record (ids last_seq_held + 1 .. first_seq_after - 1). Needed where ids cannot
  /// show completion: a suspect window's OKX trades, fetched as the venue's fills (issue 16).
  backfill_done = 12,
  /// A bus carried across machines lost records on the way (mdbridge subscribe, issue 18).
  /// Venue unknown: the JetStream stream's sequence jumped (messages removed by its limits
  /// before this subscriber read them), so records of any stream may be lost; last_seq_held /
  /// first_seq_after are the stream sequences around the hole. Venue and stream named: a record
  /// of that stream arrived after a later one was written, and was not written (records in
  /// venue order); last_seq_held is the last venue sequence written, first_seq_after the
  /// dropped record's.
  bridge_lost = 13,
};

/// Loss, never silent: header venue_id, channel_id and symbol name the stream.
struct gap_record {
  static constexpr record_type kType = record_type::gap;
  record_header header;
  std::uint64_t last_seq_held;    ///< last sequence published before the hole (0 if none)
  std::uint64_t first_seq_after;  ///< first sequence after the hole (0 if not yet known)
  std::int64_t held_ns;           ///< how long the merger waited for the other slot
  gap_reason reason;
  std::uint8_t pad[7];
};
static_assert(sizeof(gap_record) == 112);
static_assert(alignof(gap_record) == 8);
static_assert(std::is_trivially_copyable_v<gap_record> && std::is_standard_layout_v<gap_record>);
static_assert(offsetof(gap_record, last_seq_held) == 80);
static_assert(offsetof(gap_record, first_seq_after) == 88);
static_assert(offsetof(gap_record, held_ns) == 96);
static_assert(offsetof(gap_record, reason) == 104);

enum class slot_state : std::uint8_t {
  unknown = 0,
  connecting = 1,  ///< socket / TLS / WebSocket handshake or subscription under way
  syncing = 2,     ///< connected, waiting for snapshots or sequence alignment
  up = 3,          ///< live and in sync
  rotating = 4,    ///< being replaced make-before-break; its partner carries the streams
  down = 5,
};

enum class slot_reason : std::uint8_t {
  none = 0,
  startup = 1,
  age_limit = 2,         ///< planned rotation before the venue's connection age limit
  venue_notice = 3,      ///< Binance serverShutdown, OKX notice 64008
  operator_request = 4,  ///< mdctl switchover / rotation / restart
  idle_watchdog = 5,     ///< connection-level: no bytes
  pong_timeout = 6,
  stale_stream = 7,      ///< per-symbol staleness watchdog
  remote_close = 8,      ///< the venue closed the connection
  network_error = 9,
  handshake_failed = 10,  ///< TCP, TLS or WebSocket upgrade failed
  process_exit = 11,      ///< the feeder process died
  backoff = 12,           ///< waiting out reconnect pacing
  config_reload = 13,     ///< mdctl reload changed the slot's symbols: its feeder restarts with them
};

inline constexpr std::size_t kReasonTextCapacity = 48;

/// A slot changed state. header.venue_id, header.slot and `group` name it (a venue's
/// connection group: its slot pair carries the group's symbols only); channel and symbol empty.
struct slot_status_record {
  static constexpr record_type kType = record_type::slot_status;
  record_header header;
  slot_state state;
  slot_reason reason;
  std::uint16_t group;  ///< the connection group (0 for a venue of one group; was padding, always 0, before groups)
  std::uint32_t connection_epoch;  ///< connections this slot has opened, to tell reconnects apart
  char reason_text[kReasonTextCapacity];  ///< detail (close code, error text), NUL-padded

  /// Store `s` NUL-padded; false when it had to be cut.
  bool set_reason_text(std::string_view s) noexcept {
    const std::size_t n = s.size() < kReasonTextCapacity ? s.size() : kReasonTextCapacity;
    std::memset(reason_text, 0, kReasonTextCapacity);
    if (n != 0) std::memcpy(reason_text, s.data(), n);
    return n == s.size();
  }
  /// Up to the first NUL, never past the array.
  [[nodiscard]] std::string_view reason_text_view() const noexcept {
    const void* nul = std::memchr(reason_text, 0, kReasonTextCapacity);
    return {reason_text, nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - reason_text) : kReasonTextCapacity};
  }
};
static_assert(sizeof(slot_status_record) == 136);
static_assert(alignof(slot_status_record) == 8);
static_assert(std::is_trivially_copyable_v<slot_status_record> && std::is_standard_layout_v<slot_status_record>);
static_assert(offsetof(slot_status_record, state) == 80);
static_assert(offsetof(slot_status_record, reason) == 81);
static_assert(offsetof(slot_status_record, connection_epoch) == 84);
static_assert(offsetof(slot_status_record, reason_text) == 88);

/// mark_funding_record::fields bits: which values the venue's message carried. A value whose
/// bit is clear is zero and means nothing (OKX mark-price carries only the mark price,
/// funding-rate only the rate and its time; Binance sends "" for a delivery contract's rate).
inline constexpr std::uint8_t kHasMarkPx = 0x01;
inline constexpr std::uint8_t kHasIndexPx = 0x02;
inline constexpr std::uint8_t kHasSettlePx = 0x04;     ///< Binance P, the estimated settle price
inline constexpr std::uint8_t kHasFundingRate = 0x08;
inline constexpr std::uint8_t kHasFundingTime = 0x10;  ///< when `funding_rate` is settled

/// A perpetual's mark price, index price and funding rate (Binance USD-M markPrice: p, i, P, r,
/// T; OKX mark-price: markPx; OKX funding-rate: fundingRate, fundingTime). Exact decimals, as
/// the venue printed them. header.venue_time_ns is the venue's E / ts. The venues send no id:
/// header.seq is the event time in milliseconds (kHeaderHasSeq), which orders one stream's
/// pushes, so the merger keeps the newest and drops the other slot's copy or a stale push.
struct mark_funding_record {
  static constexpr record_type kType = record_type::mark_funding;
  record_header header;
  std::int64_t mark_px_mantissa;
  std::int64_t index_px_mantissa;
  std::int64_t settle_px_mantissa;
  std::int64_t funding_rate_mantissa;  ///< per funding interval, e.g. 0.00038167 (may be negative)
  std::int64_t funding_time_ns;        ///< Binance T "next funding time", OKX fundingTime
  std::int8_t mark_px_exponent;
  std::int8_t index_px_exponent;
  std::int8_t settle_px_exponent;
  std::int8_t funding_rate_exponent;
  std::uint8_t fields;  ///< kHasMarkPx | kHasIndexPx | kHasSettlePx | kHasFundingRate | kHasFundingTime
  std::uint8_t pad[3];

  [[nodiscard]] constexpr bool has(std::uint8_t field) const noexcept { return (fields & field) == field; }
  [[nodiscard]] constexpr decimal mark_px() const noexcept { return {mark_px_mantissa, mark_px_exponent}; }
  [[nodiscard]] constexpr decimal index_px() const noexcept { return {index_px_mantissa, index_px_exponent}; }
  [[nodiscard]] constexpr decimal settle_px() const noexcept { return {settle_px_mantissa, settle_px_exponent}; }
  [[nodiscard]] constexpr decimal funding_rate() const noexcept { return {funding_rate_mantissa, funding_rate_exponent}; }
  constexpr void set_mark_px(decimal d) noexcept {
    mark_px_mantissa = d.mantissa;
    mark_px_exponent = d.exponent;
    fields |= kHasMarkPx;
  }
  constexpr void set_index_px(decimal d) noexcept {
    index_px_mantissa = d.mantissa;
    index_px_exponent = d.exponent;
    fields |= kHasIndexPx;
  }
  constexpr void set_settle_px(decimal d) noexcept {
    settle_px_mantissa = d.mantissa;
    settle_px_exponent = d.exponent;
    fields |= kHasSettlePx;
  }
  constexpr void set_funding_rate(decimal d) noexcept {
    funding_rate_mantissa = d.mantissa;
    funding_rate_exponent = d.exponent;
    fields |= kHasFundingRate;
  }
  constexpr void set_funding_time_ns(std::int64_t t) noexcept {
    funding_time_ns = t;
    fields |= kHasFundingTime;
  }
  /// header.seq := the event time in ms (kHeaderHasSeq): the order of a stream's pushes, which
  /// carry no venue id. Call once header.venue_time_ns is set.
  constexpr void order_by_event_time() noexcept {
    header.seq = static_cast<std::uint64_t>(header.venue_time_ns / 1'000'000);
    header.flags = static_cast<std::uint8_t>(header.flags | kHeaderHasSeq);
  }
};
static_assert(sizeof(mark_funding_record) == 128);
static_assert(alignof(mark_funding_record) == 8);
static_assert(std::is_trivially_copyable_v<mark_funding_record> && std::is_standard_layout_v<mark_funding_record>);
static_assert(offsetof(mark_funding_record, mark_px_mantissa) == 80);
static_assert(offsetof(mark_funding_record, index_px_mantissa) == 88);
static_assert(offsetof(mark_funding_record, settle_px_mantissa) == 96);
static_assert(offsetof(mark_funding_record, funding_rate_mantissa) == 104);
static_assert(offsetof(mark_funding_record, funding_time_ns) == 112);
static_assert(offsetof(mark_funding_record, mark_px_exponent) == 120);
static_assert(offsetof(mark_funding_record, funding_rate_exponent) == 123);
static_assert(offsetof(mark_funding_record, fields) == 124);

enum class instrument_kind : std::uint8_t { unknown = 0, spot = 1, perpetual = 2, future = 3, option = 4 };

/// instrument_record::fields bits: which values the venue's instrument list gave.
inline constexpr std::uint8_t kHasContractValue = 0x01;
inline constexpr std::uint8_t kHasTickSize = 0x02;
inline constexpr std::uint8_t kHasLotSize = 0x04;

inline constexpr std::size_t kCurrencyCapacity = 16;

/// An instrument's reference data, from the venue's instrument list at the feeder's start (OKX
/// "Get instruments": ctVal, ctValCcy, tickSz, lotSz, instType). Sizes of a derivative's trades
/// and book levels are in contracts; base quantity = contracts × contract_value (base_quantity()).
/// header.channel_id is channel::reference; the feeder republishes the record every
/// policy.reference_interval_ms, with header.seq the start of that interval on the wall clock
/// (ms, kHeaderHasSeq): both slots' copies of one interval are one record, and a consumer that
/// starts late has it within one interval. venue_time_ns 0: not a venue event.
struct instrument_record {
  static constexpr record_type kType = record_type::instrument;
  record_header header;
  std::int64_t contract_value_mantissa;  ///< base units per contract (OKX ctVal); spot: 1
  std::int64_t tick_size_mantissa;
  std::int64_t lot_size_mantissa;
  std::int8_t contract_value_exponent;
  std::int8_t tick_size_exponent;
  std::int8_t lot_size_exponent;
  instrument_kind kind;
  std::uint8_t fields;  ///< kHasContractValue | kHasTickSize | kHasLotSize
  std::uint8_t pad[3];
  char contract_currency[kCurrencyCapacity];  ///< OKX ctValCcy ("BTC"), NUL-padded; empty when unknown

  [[nodiscard]] constexpr bool has(std::uint8_t field) const noexcept { return (fields & field) == field; }
  [[nodiscard]] constexpr decimal contract_value() const noexcept { return {contract_value_mantissa, contract_value_exponent}; }
  [[nodiscard]] constexpr decimal tick_size() const noexcept { return {tick_size_mantissa, tick_size_exponent}; }
  [[nodiscard]] constexpr decimal lot_size() const noexcept { return {lot_size_mantissa, lot_size_exponent}; }
  constexpr void set_contract_value(decimal d) noexcept {
    contract_value_mantissa = d.mantissa;
    contract_value_exponent = d.exponent;
    fields |= kHasContractValue;
  }
  constexpr void set_tick_size(decimal d) noexcept {
    tick_size_mantissa = d.mantissa;
    tick_size_exponent = d.exponent;
    fields |= kHasTickSize;
  }
  constexpr void set_lot_size(decimal d) noexcept {
    lot_size_mantissa = d.mantissa;
    lot_size_exponent = d.exponent;
    fields |= kHasLotSize;
  }
  /// Store `s` NUL-padded; false (nothing stored) when it does not fit.
  bool set_contract_currency(std::string_view s) noexcept {
    std::memset(contract_currency, 0, kCurrencyCapacity);
    if (s.size() > kCurrencyCapacity) return false;
    if (!s.empty()) std::memcpy(contract_currency, s.data(), s.size());
    return true;
  }
  [[nodiscard]] std::string_view contract_currency_view() const noexcept {
    const void* nul = std::memchr(contract_currency, 0, kCurrencyCapacity);
    return {contract_currency,
            nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - contract_currency) : kCurrencyCapacity};
  }
};
static_assert(sizeof(instrument_record) == 128);
static_assert(alignof(instrument_record) == 8);
static_assert(std::is_trivially_copyable_v<instrument_record> && std::is_standard_layout_v<instrument_record>);
static_assert(offsetof(instrument_record, contract_value_mantissa) == 80);
static_assert(offsetof(instrument_record, tick_size_mantissa) == 88);
static_assert(offsetof(instrument_record, lot_size_mantissa) == 96);
static_assert(offsetof(instrument_record, contract_value_exponent) == 104);
static_assert(offsetof(instrument_record, kind) == 107);
static_assert(offsetof(instrument_record, fields) == 108);
static_assert(offsetof(instrument_record, contract_currency) == 112);

/// `contracts` in the instrument's base unit: contracts × contract_value, exact. nullopt when
/// the record has no contract value or the product does not fit a decimal.
[[nodiscard]] std::optional<decimal> base_quantity(const instrument_record& r, decimal contracts) noexcept;

/// Size of a fixed-size record type; 0 for the book types (size depends on the levels)
/// and for unknown values.
[[nodiscard]] constexpr std::size_t fixed_record_size(record_type t) noexcept {
  switch (t) {
    case record_type::trade: return sizeof(trade_record);
    case record_type::bbo: return sizeof(bbo_record);
    case record_type::gap: return sizeof(gap_record);
    case record_type::slot_status: return sizeof(slot_status_record);
    case record_type::mark_funding: return sizeof(mark_funding_record);
    case record_type::instrument: return sizeof(instrument_record);
    case record_type::book_delta:
    case record_type::book_snapshot: break;
  }
  return 0;
}

[[nodiscard]] constexpr bool is_book_type(record_type t) noexcept {
  return t == record_type::book_delta || t == record_type::book_snapshot;
}

/// A zeroed fixed-size record (R = trade_record, bbo_record, gap_record, slot_status_record,
/// mark_funding_record or instrument_record) with size, version and type set and no slot. Zeroing defines every
/// padding byte.
template <class R>
[[nodiscard]] constexpr R make_record() noexcept {
  R r{};
  r.header.size = static_cast<std::uint16_t>(sizeof(R));
  r.header.version = kRecordLayoutVersion;
  r.header.type = R::kType;
  r.header.slot = slot_id::none;
  return r;
}

/// A zeroed book record fixed part of type `t` (book_delta or book_snapshot), one part
/// (first and last), no levels yet: write_book_record sets the size and count.
[[nodiscard]] constexpr book_record make_book_record(record_type t) noexcept {
  book_record r{};
  r.header.size = static_cast<std::uint16_t>(sizeof(book_record));
  r.header.version = kRecordLayoutVersion;
  r.header.type = t;
  r.header.slot = slot_id::none;
  r.book_flags = kBookFirstPart | kBookLastPart;
  return r;
}

/// The bytes of a fixed-size record, to hand to a ring.
template <class R>
[[nodiscard]] std::span<const std::byte> record_bytes(const R& r) noexcept {
  static_assert(std::is_trivially_copyable_v<R>);
  return std::as_bytes(std::span<const R, 1>(&r, 1));
}

/// Serialize `fixed` followed by `levels` into `out`, setting header.size, version and
/// level_count. Returns the bytes written, or 0 (nothing written) when the type is not a
/// book type, there are more than kMaxBookLevelsPerRecord levels, or `out` is too small.
[[nodiscard]] std::size_t write_book_record(std::span<std::byte> out, const book_record& fixed,
                                            std::span<const book_level> levels) noexcept;

enum class record_status : std::uint8_t {
  ok = 0,
  too_short,        ///< fewer bytes than a record header
  bad_version,      ///< header.version != kRecordLayoutVersion
  unknown_type,     ///< header.type is not a record_type
  truncated,        ///< header.size claims more bytes than the buffer holds
  bad_size,         ///< header.size is not the type's size (or below the book fixed part)
  bad_level_count,  ///< book: level_count disagrees with header.size or exceeds the maximum
};

/// Typed, bounds-checked access to the levels of a validated book record. Levels are
/// copied out one at a time, so the buffer may have any alignment.
class book_view {
 public:
  book_view() = default;
  book_view(const book_record& fixed, std::span<const std::byte> levels) noexcept : fixed_(fixed), levels_(levels) {}

  /// Header and fixed fields (a copy).
  [[nodiscard]] const book_record& fixed() const noexcept { return fixed_; }
  [[nodiscard]] const record_header& header() const noexcept { return fixed_.header; }
  [[nodiscard]] std::size_t level_count() const noexcept { return levels_.size() / sizeof(book_level); }
  /// Level i; a zeroed level (side unknown) when i >= level_count(), never a read out of bounds.
  [[nodiscard]] book_level level(std::size_t i) const noexcept {
    book_level l{};
    if (i < level_count()) std::memcpy(&l, levels_.data() + i * sizeof(book_level), sizeof(book_level));
    return l;
  }
  [[nodiscard]] bool is_snapshot() const noexcept { return fixed_.header.type == record_type::book_snapshot; }
  [[nodiscard]] bool first_part() const noexcept { return (fixed_.book_flags & kBookFirstPart) != 0; }
  [[nodiscard]] bool last_part() const noexcept { return (fixed_.book_flags & kBookLastPart) != 0; }
  [[nodiscard]] std::optional<std::int32_t> checksum() const noexcept {
    if ((fixed_.book_flags & kBookChecksumPresent) == 0) return std::nullopt;
    return fixed_.checksum;
  }

 private:
  book_record fixed_{};
  std::span<const std::byte> levels_;  ///< exactly level_count() × sizeof(book_level) bytes
};

/// A validated record inside a frame. The view refers to the frame's bytes; keep them
/// alive and unchanged while using it. Typed accessors return nullopt for another type.
class record_view {
 public:
  record_view() = default;

  /// Validate `frame` and point `out` at the record at its start. Checks, in order: a
  /// whole header present, version, known type, header.size within the frame (bytes
  /// beyond it are ignored), header.size equal to the type's size (books: to
  /// book_record_size(level_count), level_count <= kMaxBookLevelsPerRecord). Any byte
  /// pattern gives a status, never undefined behaviour. `out` is written only on ok.
  [[nodiscard]] static record_status parse(std::span<const std::byte> frame, record_view& out) noexcept;

  [[nodiscard]] record_type type() const noexcept { return header_.type; }
  /// A copy of the header (so it is aligned whatever the frame's alignment).
  [[nodiscard]] const record_header& header() const noexcept { return header_; }
  /// Exactly header().size bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

  [[nodiscard]] std::optional<trade_record> trade() const noexcept { return copy_as<trade_record>(); }
  [[nodiscard]] std::optional<bbo_record> bbo() const noexcept { return copy_as<bbo_record>(); }
  [[nodiscard]] std::optional<gap_record> gap() const noexcept { return copy_as<gap_record>(); }
  [[nodiscard]] std::optional<slot_status_record> slot_status() const noexcept { return copy_as<slot_status_record>(); }
  [[nodiscard]] std::optional<mark_funding_record> mark_funding() const noexcept { return copy_as<mark_funding_record>(); }
  [[nodiscard]] std::optional<instrument_record> instrument() const noexcept { return copy_as<instrument_record>(); }
  [[nodiscard]] std::optional<book_view> book() const noexcept {
    if (!is_book_type(header_.type) || bytes_.size() < sizeof(book_record)) return std::nullopt;
    book_record fixed;
    std::memcpy(&fixed, bytes_.data(), sizeof(book_record));
    return book_view(fixed, bytes_.subspan(sizeof(book_record)));
  }

 private:
  template <class R>
  [[nodiscard]] std::optional<R> copy_as() const noexcept {
    if (header_.type != R::kType || bytes_.size() != sizeof(R)) return std::nullopt;
    R r;
    std::memcpy(&r, bytes_.data(), sizeof(R));
    return r;
  }

  record_header header_{};
  std::span<const std::byte> bytes_;
};

// Names for logs, tools and tests. Unknown values give "unknown".
[[nodiscard]] std::string_view to_string(record_type t) noexcept;
[[nodiscard]] std::string_view to_string(slot_id s) noexcept;
[[nodiscard]] std::string_view to_string(book_side s) noexcept;
[[nodiscard]] std::string_view to_string(aggressor_side s) noexcept;
[[nodiscard]] std::string_view to_string(gap_reason r) noexcept;
[[nodiscard]] std::string_view to_string(slot_state s) noexcept;
[[nodiscard]] std::string_view to_string(slot_reason r) noexcept;
[[nodiscard]] std::string_view to_string(record_status s) noexcept;
[[nodiscard]] std::string_view to_string(instrument_kind k) noexcept;

/// The identity of a record's content for streams without a venue sequence: FNV-1a 64 of its
/// venue time and every byte after the header (two copies of one venue message differ only in
/// receive time, publish time and slot, which live in the header). Never 0. The merger dedups
/// sequence-less streams by it; mdbridge names such records in JetStream by it.
[[nodiscard]] std::uint64_t record_content_hash(const record_view& r) noexcept;

/// One line describing the record (shmcat, logs, test failures). Allocates: never on the
/// hot path. Book records list at most `max_levels` levels, then "...+N".
[[nodiscard]] std::string format_record(const record_view& r, std::size_t max_levels = 5);

}  // namespace mdbus
