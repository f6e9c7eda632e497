#pragma once
/// The Binance trade-history answers both Binance venues give (issue 16, backfill): the rows of
/// GET historicalTrades / trades and of GET aggTrades, each read into the trade record the
/// stream gives for the same trade (binance_events.hpp), flagged kHeaderBackfilled, with the
/// trade time as venue_time_ns. Internal to feeders/.
#include "feeders/adapter_support.hpp"
#include "feeders/venue_adapter.hpp"

#include <cstdint>

namespace mdbus::feed::detail::binance {

/// Which history a page comes from.
enum class history_kind : std::uint8_t {
  trades,      ///< historicalTrades rows: id, price, qty, quoteQty, time, isBuyerMaker[, isBestMatch]
  agg_trades,  ///< aggTrades rows: a, p, q, f, l, T, m[, M]
};

/// A page of history (a JSON array of rows, oldest first) into records of the ids from..to,
/// staged in `w` (committed by the caller); nothing when the page starts after `from`. Rows must come in increasing id order; a body that
/// is an object is the venue's {"code","msg"} error (venue_error, `venue_msg` names it).
failure parse_history(od::document& doc, history_kind kind, std::uint64_t from, std::uint64_t to, stream_stamp& st,
                      record_writer& w, backfill_page& page, std::string_view& venue_msg) noexcept;

}  // namespace mdbus::feed::detail::binance
