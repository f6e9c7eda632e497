#pragma once
/// Binance USD-M futures (perpetuals) as data (bus/include/mdbus/venue_descriptor.hpp). Sources: Binance
/// derivatives docs, USDⓈ-M Futures "WebSocket Market Streams", "Order Book" (REST) and the
/// change log, as of 2026-12 (feeders/CONFORMANCE.md).
#include "mdbus/venue_descriptor.hpp"

#include <cstdint>

namespace mdbus {

/// USDⓈ-M Futures "General Info: Limits" (2026-12): REQUEST_WEIGHT 2400 per 1 MINUTE per IP,
/// counted per calendar minute (the X-MBX-USED-WEIGHT-1M header); over it HTTP 429, then 418.
inline constexpr std::uint32_t kUsdmRestWeightPerMinute = 2400;
/// USDⓈ-M Futures "WebSocket Market Streams" (2026-12): the connection attempts we pace by,
/// per 5 minutes per IP (spot's documented figure; feeders/CONFORMANCE.md says why).
inline constexpr std::uint32_t kUsdmConnectsPer5Min = 300;

/// USDⓈ-M Futures "Order Book" (GET /fapi/v1/depth, 2026-12): `limit` is one of 5, 10, 20, 50,
/// 100, 500, 1000 (default 500); weight 2 for 5-50, 5 for 100, 10 for 500, 20 for 1000.
[[nodiscard]] constexpr std::uint32_t usdm_depth_weight(int limit) noexcept {
  if (limit <= 0) limit = 500;
  if (limit <= 50) return 2;
  if (limit <= 100) return 5;
  if (limit <= 500) return 10;
  return 20;
}
/// The limits /fapi/v1/depth accepts (any other is refused with -1100 / -4004-class errors).
[[nodiscard]] constexpr bool usdm_depth_limit_ok(int limit) noexcept {
  return limit == 5 || limit == 10 || limit == 20 || limit == 50 || limit == 100 || limit == 500 || limit == 1000;
}
/// USDⓈ-M Futures "Exchange Information" (GET /fapi/v1/exchangeInfo, 2026-12): weight 1, every
/// symbol at once (no symbol filter).
inline constexpr std::uint32_t kUsdmExchangeInfoWeight = 1;

}  // namespace mdbus

namespace mdbus::venues {

/// The change log of 2026-04-23 splits USD-M market data over routed paths: depth and
/// bookTicker on /public, trades (and markPrice, klines) on /market; a stream subscribed on a
/// path that does not route it stays silent. Trade `t` and aggTrade `a` count up by one (the
/// captures: 469 trades, 91 aggTrades, no gap); diff depth chains on `pu` and joins a REST
/// snapshot by spanning it (join_rule::spans); bookTicker `u` and partial depth's `u` only
/// increase. markPrice ("Mark Price Stream") carries no id: its event time E orders its pushes
/// (the record's seq), and a push older than the last one published is stale state.
inline constexpr channel_rule kUsdmChannels[] = {
    {channel::usdm_trade, sequence_rule::consecutive, join_rule::chain, "/market", false},
    {channel::usdm_agg_trade, sequence_rule::consecutive, join_rule::chain, "/market", true},
    {channel::usdm_book_ticker, sequence_rule::increasing, join_rule::chain, "/public", false},
    {channel::usdm_depth, sequence_rule::chained, join_rule::spans, "/public", false},
    {channel::usdm_depth_partial, sequence_rule::increasing, join_rule::chain, "/public", false},
    {channel::usdm_mark_price, sequence_rule::increasing, join_rule::chain, "/market", false},
};

[[nodiscard]] const venue_descriptor& binance_usdm() noexcept;

}  // namespace mdbus::venues
