#pragma once
/// Binance spot as data (bus/include/mdbus/venue_descriptor.hpp). Sources: Binance spot API docs,
/// web-socket-streams.md and rest-api.md as of 2026-12 (feeders/CONFORMANCE.md).
#include "mdbus/venue_descriptor.hpp"

#include <cstdint>

namespace mdbus {

// The venue's documented limits and REST weights (the REST budget, bus/venue_budget.hpp).
/// Binance spot rest-api.md "LIMITS" / "General Info on Limits" (2026): REQUEST_WEIGHT 6000
/// per 1 MINUTE per IP, counted per calendar minute (the X-MBX-USED-WEIGHT-1M header).
inline constexpr std::uint32_t kBinanceRestWeightPerMinute = 6000;
/// Binance spot web-socket-streams.md "WebSocket Limits" (2026): 300 connection attempts per
/// 5 minutes per IP.
inline constexpr std::uint32_t kBinanceConnectsPer5Min = 300;

/// Binance spot rest-api.md "Order book" (2026): GET /api/v3/depth weight by `limit`:
/// 1-100 → 5, 101-500 → 25, 501-1000 → 50, 1001-5000 → 250. limit <= 0 means the default
/// 100; above 5000 (refused by Binance) counts as 250.
[[nodiscard]] constexpr std::uint32_t binance_depth_weight(int limit) noexcept {
  if (limit <= 0) limit = 100;
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}
/// Binance spot rest-api.md "Exchange information" (2026): weight 20.
inline constexpr std::uint32_t kBinanceExchangeInfoWeight = 20;
/// rest-api.md "Old trade lookup", "Compressed/Aggregate trades list" (2026-12; feeders/CONFORMANCE.md
/// "Trade history"): historicalTrades weight 25, aggTrades weight 4.
inline constexpr std::uint32_t kBinanceHistoricalTradesWeight = 25;
inline constexpr std::uint32_t kBinanceAggTradesWeight = 4;

}  // namespace mdbus

namespace mdbus::venues {

/// web-socket-streams.md: trade `t` and aggTrade `a` count up by one; diff depth carries
/// `U`..`u` and joins a REST snapshot by covering lastUpdateId + 1; bookTicker `u` and the
/// partial books' lastUpdateId only increase.
inline constexpr channel_rule kBinanceChannels[] = {
    {channel::binance_trade, sequence_rule::consecutive, join_rule::chain, {}, true},
    {channel::binance_agg_trade, sequence_rule::consecutive, join_rule::chain, {}, true},
    {channel::binance_book_ticker, sequence_rule::increasing, join_rule::chain, {}, false},
    {channel::binance_depth, sequence_rule::range, join_rule::covers, {}, false},
    {channel::binance_depth_partial, sequence_rule::increasing, join_rule::chain, {}, false},
};

[[nodiscard]] const venue_descriptor& binance() noexcept;

}  // namespace mdbus::venues
