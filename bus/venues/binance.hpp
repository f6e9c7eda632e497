#pragma once
/// Binance spot as data (bus/venue_descriptor.hpp). Sources: Binance spot API docs,
/// web-socket-streams.md and rest-api.md as of 2026-12 (feeders/CONFORMANCE.md).
#include "bus/venue_descriptor.hpp"

namespace mdbus::venues {

/// web-socket-streams.md: trade `t` and aggTrade `a` count up by one; diff depth carries
/// `U`..`u` and joins a REST snapshot by covering lastUpdateId + 1; bookTicker `u` and the
/// partial books' lastUpdateId only increase.
inline constexpr channel_rule kBinanceChannels[] = {
    {channel::binance_trade, sequence_rule::consecutive, join_rule::chain},
    {channel::binance_agg_trade, sequence_rule::consecutive, join_rule::chain},
    {channel::binance_book_ticker, sequence_rule::increasing, join_rule::chain},
    {channel::binance_depth, sequence_rule::range, join_rule::covers},
    {channel::binance_depth_partial, sequence_rule::increasing, join_rule::chain},
};

[[nodiscard]] const venue_descriptor& binance() noexcept;

}  // namespace mdbus::venues
