#pragma once
/// exsim ground-truth log: every event exsim generated, one fixed-size entry per event, so a
/// verifier can prove that the bus output lost nothing and doubled nothing.
///
/// File layout (all little-endian, no implicit padding):
///   truth_file_header (64 bytes)
///   truth_stream_record x stream_count (64 bytes each): the stream table
///   truth_entry x N (64 bytes each), appended while exsim runs; a reader ignores a
///   trailing partial entry (the writer may be mid-append).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mdbus/venue.hpp"

namespace mdbus::exsim {

inline constexpr char kTruthMagic[8] = {'M', 'D', 'B', 'X', 'S', 'I', 'M', 'T'};
inline constexpr std::uint32_t kTruthVersion = 1;

/// File header. `entries_offset` = 64 + 64 * stream_count.
struct truth_file_header {
  char magic[8];                 ///< kTruthMagic
  std::uint32_t version;         ///< kTruthVersion
  std::uint32_t entry_size;      ///< sizeof(truth_entry)
  std::uint32_t stream_count;    ///< records in the stream table
  std::uint32_t stream_record_size;  ///< sizeof(truth_stream_record)
  std::uint64_t entries_offset;  ///< byte offset of the first entry
  std::uint64_t seed;            ///< market seed the run used
  std::int64_t start_time_ns;    ///< CLOCK_REALTIME when the log was opened
  std::uint8_t reserved[16];
};
static_assert(sizeof(truth_file_header) == 64);

/// One stream: (venue, channel, symbol) plus the venue's own stream name, which tells
/// variants apart (`btcusdt@depth` vs `btcusdt@depth@100ms`, `@depth5` vs `@depth20`).
struct truth_stream_record {
  std::uint16_t stream_id;  ///< index into the table, used by truth_entry::stream_id
  std::uint8_t venue;       ///< mdbus::venue
  std::uint8_t channel;     ///< mdbus::channel
  std::uint8_t depth_levels;  ///< partial-book streams: levels per side (5/10/20, 5 for books5)
  std::uint8_t reserved[3];
  char symbol[16];          ///< venue symbol, NUL-padded: "BTCUSDT", "BTC-USDT"
  char name[40];            ///< venue stream name, NUL-padded: "btcusdt@depth@100ms", "books:BTC-USDT"
};
static_assert(sizeof(truth_stream_record) == 64);

/// Entry flags.
enum truth_flag : std::uint8_t {
  kTruthSnapshot = 1,   ///< a book snapshot (OKX action "snapshot", Binance partial depth)
  kTruthHeartbeat = 2,  ///< OKX empty book update with prevSeqId == seqId
  kTruthPerConnection = 4,  ///< sent to one connection only (OKX snapshot on subscribe)
};

/// One generated event. The sequence fields mean, per channel:
/// | channel | first_seq | last_seq | prev_seq |
/// |---|---|---|---|
/// | binance_trade | t | t | -1 |
/// | binance_agg_trade | a | a | first trade id f (l = f + fills - 1 is in the payload) |
/// | binance_book_ticker | u | u | -1 |
/// | binance_depth | U | u | -1 |
/// | binance_depth_partial | lastUpdateId | lastUpdateId | -1 |
/// | okx_trades | tradeId | tradeId | -1 |
/// | okx_tickers | 0 | 0 | -1 |
/// | okx_bbo_tbt, okx_books5 | seqId | seqId | -1 |
/// | okx_books, okx_books_l2_tbt | seqId | seqId | prevSeqId (-1 on a snapshot) |
/// | usdm_mark_price, okx_mark_price, okx_funding_rate | E / ts | E / ts | -1 (no id: the event time orders them) |
/// `payload_hash` is truth_hash() of the exact bytes of the event as the venue frames it:
/// Binance: the raw-stream payload (the value of "data" in the combined wrapper);
/// OKX: the whole text message.
/// An entry's index (0, 1, 2, ...) is its position in the file.
struct truth_entry {
  std::int64_t first_seq;
  std::int64_t last_seq;
  std::int64_t prev_seq;
  std::int64_t event_time_ms;  ///< the payload's event time (Binance E, OKX ts)
  /// CLOCK_REALTIME (ns) when exsim wrote the event to a socket: the first connection write
  /// after its generation, stamped just before the write call; its generation time if no
  /// write followed within 5 ms (no subscriber). Exact: no tick millisecond in it.
  std::int64_t gen_time_ns;
  std::uint64_t payload_hash;
  std::uint32_t payload_len;
  std::uint32_t conn_id;      ///< 0 for fanned-out events, else the one connection it went to
  std::uint16_t stream_id;
  std::uint8_t venue;
  std::uint8_t channel;
  std::uint8_t flags;         ///< truth_flag bits
  std::uint8_t reserved[3];
};
static_assert(sizeof(truth_entry) == 64);
static_assert(offsetof(truth_entry, payload_hash) == 40);
static_assert(offsetof(truth_entry, stream_id) == 56);

/// 64-bit FNV-1a over the payload bytes: simple enough for any verifier to reproduce.
constexpr std::uint64_t truth_hash(std::string_view bytes) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace mdbus::exsim
