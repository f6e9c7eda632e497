#pragma once
/// Venue and channel identifiers shared by every process on the bus (records, feeders,
/// merger, exsim's ground truth). The numeric values are part of the shared-memory and
/// file layouts: never renumber, only append.
#include <cstdint>
#include <optional>
#include <string_view>

namespace mdbus {

enum class venue : std::uint8_t {
  unknown = 0,
  binance = 1,  ///< Binance spot
  okx = 2,      ///< OKX v5 public
  binance_usdm = 3,  ///< Binance USD-M futures (perpetuals)
};

/// One enumerator per (venue, channel kind). Which venue declares which is its descriptor's
/// business (bus/venues/); the numbers only have to be unique and stable.
enum class channel : std::uint8_t {
  unknown = 0,
  binance_trade = 1,          ///< <sym>@trade, sequence `t`
  binance_agg_trade = 2,      ///< <sym>@aggTrade, sequence `a`
  binance_book_ticker = 3,    ///< <sym>@bookTicker, sequence `u` (state, latest wins)
  binance_depth = 4,          ///< <sym>@depth[@100ms], diff with `U`..`u`
  binance_depth_partial = 5,  ///< <sym>@depth5/10/20[@100ms], snapshot with lastUpdateId
  okx_trades = 16,            ///< trades, sequence tradeId (not consecutive)
  okx_tickers = 17,           ///< tickers, no sequence
  okx_bbo_tbt = 18,           ///< bbo-tbt, seqId/prevSeqId
  okx_books = 19,             ///< books (400 levels), seqId/prevSeqId
  okx_books5 = 20,            ///< books5 snapshots, seqId
  okx_books_l2_tbt = 21,      ///< books-l2-tbt, seqId/prevSeqId
  okx_mark_price = 22,        ///< mark-price, ordered by ts (state, pushed on change)
  okx_funding_rate = 23,      ///< funding-rate (perpetual swaps), ordered by ts
  usdm_trade = 32,            ///< Binance USD-M <sym>@trade, sequence `t`
  usdm_agg_trade = 33,        ///< Binance USD-M <sym>@aggTrade, sequence `a`
  usdm_book_ticker = 34,      ///< Binance USD-M <sym>@bookTicker, sequence `u` (state, latest wins)
  usdm_depth = 35,            ///< Binance USD-M <sym>@depth[@500ms|@100ms|@0ms], chained on `pu`
  usdm_depth_partial = 36,    ///< Binance USD-M <sym>@depth5/10/20[@...], top levels with `u`
  usdm_mark_price = 37,       ///< Binance USD-M <sym>@markPrice[@1s]: mark, index, funding; ordered by E
  /// Not a venue channel: the feeders' instrument records (reference data from the venue's
  /// instrument list), one stream per symbol, of every venue. No descriptor declares it.
  reference = 63,
};

/// The spelling of the layout's venue ids, for every process including those that do not link
/// the descriptors (exsim, written apart from the bus). The descriptors' names must agree
/// (`venue descriptors:` tests check each).
constexpr std::string_view to_string(venue v) noexcept {
  switch (v) {
    case venue::binance: return "binance";
    case venue::okx: return "okx";
    case venue::binance_usdm: return "binance_usdm";
    case venue::unknown: break;
  }
  return "unknown";
}

constexpr std::optional<venue> venue_from_string(std::string_view s) noexcept {
  if (s == "binance") return venue::binance;
  if (s == "okx") return venue::okx;
  if (s == "binance_usdm") return venue::binance_usdm;
  return std::nullopt;
}

/// The venue's own name for the channel (Binance stream suffix, OKX channel name).
constexpr std::string_view to_string(channel c) noexcept {
  switch (c) {
    case channel::binance_trade: return "trade";
    case channel::binance_agg_trade: return "aggTrade";
    case channel::binance_book_ticker: return "bookTicker";
    case channel::binance_depth: return "depth";
    case channel::binance_depth_partial: return "depthPartial";
    case channel::okx_trades: return "trades";
    case channel::okx_tickers: return "tickers";
    case channel::okx_bbo_tbt: return "bbo-tbt";
    case channel::okx_books: return "books";
    case channel::okx_books5: return "books5";
    case channel::okx_books_l2_tbt: return "books-l2-tbt";
    case channel::okx_mark_price: return "mark-price";
    case channel::okx_funding_rate: return "funding-rate";
    case channel::usdm_trade: return "trade";
    case channel::usdm_agg_trade: return "aggTrade";
    case channel::usdm_book_ticker: return "bookTicker";
    case channel::usdm_depth: return "depth";
    case channel::usdm_depth_partial: return "depthPartial";
    case channel::usdm_mark_price: return "markPrice";
    case channel::reference: return "reference";
    case channel::unknown: break;
  }
  return "unknown";
}

// Which venue declares a channel, its position there and its spelling back to the channel are
// the venue descriptors' (bus/include/mdbus/venues/registry.hpp: venue_of, channel_position,
// channel_from_string): no numeric range here says which venue a channel belongs to.

}  // namespace mdbus
