// Binance USD-M futures (perpetuals) public market data: the Binance protocol
// (binance_family.hpp) with USD-M's data. Sources: Binance derivatives docs, USDⓈ-M Futures
// "WebSocket Market Streams", "How to manage a local order book correctly", "Order Book" and
// "Exchange Information" (REST), as of 2026-12; feeders/CONFORMANCE.md lists each rule with
// its test.
//
// What differs from spot, all of it data here or in the descriptor (bus/venues/binance_usdm.*):
// - routed paths (change log 2026-04-23): depth and bookTicker on /public, trades on /market;
//   ws_path prefixes the channels' route, and one connection serves one route;
// - diff depth carries pu, the previous event's u: the chain (never U; in the captures
//   U != previous u + 1 in 760 of 764 events); the first event after a REST snapshot spans it,
//   U <= lastUpdateId <= u (join_rule::spans, applied by the merger);
// - partial depth is a depthUpdate event (U, u, pu and the top levels), not lastUpdateId/bids/asks;
// - markPrice[@1s] ("Mark Price Stream", on /market): mark, index, estimated settle price,
//   funding rate and next funding time, one mark_funding record per event;
// - bookTicker carries e, E and T; aggTrade carries nq (ignored); trades carry X (ignored);
// - REST GET /fapi/v1/depth on fapi.binance.com, limit 5..1000 from a fixed set, weight 2..20;
//   the instrument list GET /fapi/v1/exchangeInfo has no symbol filter (weight 1).
#include "mdbus/venues/binance_usdm.hpp"
#include "feeders/binance_family.hpp"

namespace mdbus::feed::detail {
std::unique_ptr<venue_adapter> make_binance_usdm_adapter(const adapter_options& options);

namespace {

std::string usdm_instruments_path(std::span<const std::string>) { return "/fapi/v1/exchangeInfo"; }

/// The resync asks for 1000 levels, the most /fapi/v1/depth gives: weight 20 of the 2400/min.
constexpr binance_family kUsdm{
    .descriptor = &venues::binance_usdm,
    .trade = channel::usdm_trade,
    .agg_trade = channel::usdm_agg_trade,
    .book_ticker = channel::usdm_book_ticker,
    .depth = channel::usdm_depth,
    .depth_partial = channel::usdm_depth_partial,
    .mark_price = channel::usdm_mark_price,
    .diff_shape = binance::depth_shape::usdm_diff,
    .partial_is_depth_update = true,
    .depth_variants = "variant must be empty, 500ms, 100ms or 0ms",
    .partial_variants = "variant must be 5, 10 or 20, optionally @500ms, @100ms or @0ms",
    .depth_path = "/fapi/v1/depth",
    .resync_depth = 1000,
    .depth_weight = &usdm_depth_weight,
    .depth_limit_ok = &usdm_depth_limit_ok,
    .instruments_path = &usdm_instruments_path,
    .instruments_cost = kUsdmExchangeInfoWeight,
    .trades_history_path = {},
    .trades_history_cost = 0,
    .trades_history_rows = 0,
    // Backfill (issue 16): "Compressed/Aggregate Trades List" GET /fapi/v1/aggTrades (weight 20,
    // limit max 1000, public). "Old Trades Lookup" /fapi/v1/historicalTrades is MARKET_DATA: it
    // wants an API key, which the bus does not hold, so USD-M trade holes stay gap records.
    .agg_history_path = "/fapi/v1/aggTrades",
    .agg_history_cost = 20,
    .agg_history_rows = 1000,
};

}  // namespace

std::unique_ptr<venue_adapter> make_binance_usdm_adapter(const adapter_options& options) {
  return make_binance_family_adapter(kUsdm, options);
}

}  // namespace mdbus::feed::detail
