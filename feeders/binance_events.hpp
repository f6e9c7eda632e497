#pragma once
/// The Binance event payloads shared by the Binance venues' adapters (spot and USD-M): one
/// parser per event shape, each writing at most one record (a book record may be split)
/// through the record writer. Internal to feeders/.
#include "feeders/adapter_support.hpp"

#include <cstdint>
#include <string_view>

namespace mdbus::feed::detail::binance {

/// Which depthUpdate a venue sends on a stream.
enum class depth_shape : std::uint8_t {
  spot_diff,   ///< spot diff depth: U, u (pu read when present)
  usdm_diff,   ///< USD-M diff depth: U, u and pu, the chain (required)
  top_levels,  ///< USD-M partial depth: a depthUpdate with U, u, pu whose levels are the top N: a snapshot
};

/// A quantity: a decimal string, never negative (bad_number).
[[nodiscard]] parse_error read_qty(od::value& v, decimal& out) noexcept;
/// A trade happened at a price and for a quantity: both > 0 (a negative quantity is already
/// bad_number). One check for the stream and the history (backfill).
[[nodiscard]] failure check_trade(decimal px, decimal qty, std::string_view px_name, std::string_view qty_name) noexcept;

/// The rest of a trade record once its id (and, for an aggregate, f and l) are read: flags
/// (kHeaderHasSeq, plus `extra_flags`), price, quantity, trade count, aggressor (m / isBuyerMaker:
/// the buyer made, so a seller took). One mapping for the stream and the history (backfill).
void finish_trade(trade_record& r, decimal px, decimal qty, bool buyer_maker, std::uint8_t extra_flags) noexcept;
/// As finish_trade for an aggregate trade (kHeaderHasFirstSeq, first_seq = f, count l - f + 1);
/// invalid_value when f > l (web-socket-streams.md "Aggregate Trade Streams": f first, l last).
[[nodiscard]] failure finish_agg_trade(trade_record& r, decimal px, decimal qty, bool buyer_maker,
                                       std::uint8_t extra_flags) noexcept;

/// trade: e, E, s, t, p, q, m (spot also M, USD-M X: ignored).
failure parse_trade(od::object& data, stream_stamp& st, record_writer& w) noexcept;
/// aggTrade: e, E, s, a, p, q, f, l, m.
failure parse_agg_trade(od::object& data, stream_stamp& st, record_writer& w) noexcept;
/// bookTicker: u, s, b, B, a, A (USD-M also e, E, T).
failure parse_book_ticker(od::object& data, stream_stamp& st, record_writer& w) noexcept;
/// markPriceUpdate (USD-M): e, E, s, p, i, P, r, T → a mark_funding record.
failure parse_mark_price(od::object& data, stream_stamp& st, record_writer& w) noexcept;
/// depthUpdate: e, E, s, U, u, b, a (USD-M also T, pu).
failure parse_depth(od::object& data, stream_stamp& st, record_writer& w, level_buffer& levels, depth_shape shape) noexcept;
/// lastUpdateId, bids, asks (USD-M REST also E, T): spot partial depth and the REST snapshots.
/// `venue_msg` non-null: a REST body, whose {"code":…,"msg":…} is a venue_error naming msg.
failure parse_depth_snapshot(od::object& data, stream_stamp& st, record_writer& w, level_buffer& levels,
                             std::uint8_t extra_flags, std::string_view* venue_msg) noexcept;

}  // namespace mdbus::feed::detail::binance
