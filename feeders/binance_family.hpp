#pragma once
/// The Binance protocol as both Binance venues speak it (spot and USD-M futures): combined
/// streams on a URL path, SUBSCRIBE / UNSUBSCRIBE control messages, WebSocket ping frames from
/// the server, a REST depth snapshot joined by ids. What differs per venue is data, one
/// binance_family per venue (binance_adapter.cpp: spot; binance_usdm_adapter.cpp: USD-M): its
/// descriptor (grammar, routes), its channels, the shape of its depth events and its REST
/// paths. Internal to feeders/.
#include "mdbus/venue_descriptor.hpp"
#include "feeders/binance_events.hpp"
#include "feeders/binance_history.hpp"
#include "feeders/venue_adapter.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace mdbus::feed::detail {

struct binance_family {
  const venue_descriptor& (*descriptor)() noexcept = nullptr;
  /// The venue's channel for each Binance stream kind (channel::unknown: the venue has none).
  channel trade = channel::unknown;
  channel agg_trade = channel::unknown;
  channel book_ticker = channel::unknown;
  channel depth = channel::unknown;
  channel depth_partial = channel::unknown;
  channel mark_price = channel::unknown;  ///< USD-M markPrice
  binance::depth_shape diff_shape = binance::depth_shape::spot_diff;
  /// Partial depth as a lastUpdateId/bids/asks object (spot) or a depthUpdate event (USD-M).
  bool partial_is_depth_update = false;
  /// Why a partial-depth or depth variant is refused, for the error message.
  std::string_view depth_variants;
  std::string_view partial_variants;
  /// REST: the depth snapshot path ("/api/v3/depth"), the resync's level count, its weight.
  std::string_view depth_path;
  int resync_depth = 1000;
  std::uint32_t (*depth_weight)(int limit) noexcept = nullptr;
  bool (*depth_limit_ok)(int limit) noexcept = nullptr;
  /// The instrument list: the path for these symbols, its weight, the endpoint's name for messages.
  std::string (*instruments_path)(std::span<const std::string> symbols) = nullptr;
  std::uint32_t instruments_cost = 0;
  /// Trade history for backfill (issue 16): per channel, the path ("" = none), one page's
  /// weight and the most rows a page gives.
  std::string_view trades_history_path;
  std::uint32_t trades_history_cost = 0;
  std::size_t trades_history_rows = 0;
  std::string_view agg_history_path;
  std::uint32_t agg_history_cost = 0;
  std::size_t agg_history_rows = 0;
};

std::unique_ptr<venue_adapter> make_binance_family_adapter(const binance_family& family, const adapter_options& options);

}  // namespace mdbus::feed::detail
