#pragma once
/// OKX v5 public market data as data (bus/include/mdbus/venue_descriptor.hpp). Sources: OKX v5 API docs
/// ("WebSocket", "Order book channel", "Trades channel") as of 2026-12 (feeders/CONFORMANCE.md).
#include "mdbus/venue_descriptor.hpp"

#include <cstdint>

namespace mdbus {

// The venue's documented limits and REST weights (the REST budget, bus/venue_budget.hpp).
/// OKX v5 "Market data / Get order book" (2026): GET /api/v5/market/books, 40 requests per
/// 2 s per IP. The budget's unit is one books request; other endpoints cost okx_rest_cost().
inline constexpr std::uint32_t kOkxBooksPer2s = 40;
/// OKX v5 "Public data / Get instruments" (2026): 20 requests per 2 s per IP.
inline constexpr std::uint32_t kOkxInstrumentsPer2s = 20;
/// OKX v5 "Market data / Get trades history" (2026-12): GET /api/v5/market/history-trades,
/// 20 requests per 2 s per IP, at most 100 rows a page.
inline constexpr std::uint32_t kOkxHistoryTradesPer2s = 20;
inline constexpr std::size_t kOkxHistoryTradesRows = 100;
/// OKX v5 "WebSocket / Connect" (2026): 3 connection requests per second per IP.
inline constexpr std::uint32_t kOkxConnectsPerSecond = 3;

/// OKX limits are per endpoint; one budget in books-request units covers them all: an
/// endpoint allowing `documented_per_2s` requests costs ceil(40 / documented_per_2s) units,
/// so no mix of endpoints exceeds any endpoint's own limit (instruments: 2 units → at most
/// 15 per 2 s at 75 %). 0 → the books cost 1.
[[nodiscard]] constexpr std::uint32_t okx_rest_cost(std::uint32_t documented_per_2s) noexcept {
  if (documented_per_2s == 0 || documented_per_2s >= kOkxBooksPer2s) return 1;
  return (kOkxBooksPer2s + documented_per_2s - 1) / documented_per_2s;
}

}  // namespace mdbus

namespace mdbus::venues {

/// books, books-l2-tbt and bbo-tbt chain seqId on prevSeqId; books join a REST snapshot by
/// straddling its seqId; trades' tradeId and books5's seqId only increase (trades' fills are
/// kept behind GET /api/v5/market/history-trades: backfilled after a suspect window); tickers carry no
/// sequence; mark-price and funding-rate ("Public Data") neither, but they are state, ordered by
/// their ts (the record's seq): a push older than the last one published is stale.
inline constexpr channel_rule kOkxChannels[] = {
    {channel::okx_trades, sequence_rule::increasing, join_rule::chain, {}, true},
    {channel::okx_tickers, sequence_rule::content, join_rule::chain, {}, false},
    {channel::okx_bbo_tbt, sequence_rule::chained, join_rule::chain, {}, false},
    {channel::okx_books, sequence_rule::chained, join_rule::straddles, {}, false},
    {channel::okx_books5, sequence_rule::increasing, join_rule::chain, {}, false},
    {channel::okx_books_l2_tbt, sequence_rule::chained, join_rule::straddles, {}, false},
    {channel::okx_mark_price, sequence_rule::increasing, join_rule::chain, {}, false},
    {channel::okx_funding_rate, sequence_rule::increasing, join_rule::chain, {}, false},
};

[[nodiscard]] const venue_descriptor& okx() noexcept;

/// OKX v5 "Get instruments": the instType of an instId as the bus streams them — perpetual
/// swaps end in "-SWAP" ("BTC-USDT-SWAP"), everything else is spot ("BTC-USDT").
[[nodiscard]] constexpr std::string_view okx_inst_type(std::string_view inst_id) noexcept {
  return inst_id.ends_with("-SWAP") ? "SWAP" : "SPOT";
}

}  // namespace mdbus::venues
