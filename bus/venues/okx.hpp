#pragma once
/// OKX v5 public market data as data (bus/venue_descriptor.hpp). Sources: OKX v5 API docs
/// ("WebSocket", "Order book channel", "Trades channel") as of 2026-12 (feeders/CONFORMANCE.md).
#include "bus/venue_descriptor.hpp"

namespace mdbus::venues {

/// books, books-l2-tbt and bbo-tbt chain seqId on prevSeqId; books join a REST snapshot by
/// straddling its seqId; trades' tradeId and books5's seqId only increase; tickers carry no
/// sequence.
inline constexpr channel_rule kOkxChannels[] = {
    {channel::okx_trades, sequence_rule::increasing, join_rule::chain},
    {channel::okx_tickers, sequence_rule::content, join_rule::chain},
    {channel::okx_bbo_tbt, sequence_rule::chained, join_rule::chain},
    {channel::okx_books, sequence_rule::chained, join_rule::straddles},
    {channel::okx_books5, sequence_rule::increasing, join_rule::chain},
    {channel::okx_books_l2_tbt, sequence_rule::chained, join_rule::straddles},
};

[[nodiscard]] const venue_descriptor& okx() noexcept;

}  // namespace mdbus::venues
