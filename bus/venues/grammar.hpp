#pragma once
/// What the venues' grammars share (bus/venues/<venue>.cpp): character classes, and the Binance
/// stream-name grammar both Binance venues use with their own channels and update speeds.
#include "mdbus/venue_descriptor.hpp"

#include <initializer_list>
#include <string_view>

namespace mdbus::venues {

[[nodiscard]] constexpr bool upper_or_digit(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

/// One Binance venue's channels, by stream kind.
struct binance_stream_channels {
  channel trade, agg_trade, book_ticker, depth, depth_partial;
  channel mark_price = channel::unknown;  ///< USD-M only
};

/// A Binance stream-name suffix: trade, aggTrade, bookTicker, depth[@<speed>],
/// depth5|10|20[@<speed>], the speed one of `speeds` ("100ms"), and where the venue has it
/// markPrice[@1s] (USD-M "Mark Price Stream": 3 s, or 1 s; variant "1s"). The variant is the speed for
/// depth ("100ms") and levels plus speed for partial depth ("20@100ms"); channel::unknown for
/// anything else. noexcept, no allocation: the adapters parse stream names with it.
[[nodiscard]] inline parsed_channel parse_binance_stream(std::string_view name, const binance_stream_channels& ch,
                                                         std::initializer_list<std::string_view> speeds) noexcept {
  if (ch.mark_price != channel::unknown && name.starts_with("markPrice")) {
    if (name == "markPrice") return {ch.mark_price, {}};
    if (name == "markPrice@1s") return {ch.mark_price, name.substr(10)};
    return {};
  }
  std::string_view base = name;
  std::string_view speed;
  if (const auto at = name.find('@'); at != std::string_view::npos) {
    base = name.substr(0, at);
    speed = name.substr(at + 1);
    bool known = false;
    for (const std::string_view s : speeds) known = known || speed == s;
    if (!known) return {};
  }
  if (base == "trade") return speed.empty() ? parsed_channel{ch.trade, {}} : parsed_channel{};
  if (base == "aggTrade") return speed.empty() ? parsed_channel{ch.agg_trade, {}} : parsed_channel{};
  if (base == "bookTicker") return speed.empty() ? parsed_channel{ch.book_ticker, {}} : parsed_channel{};
  if (base == "depth") return {ch.depth, speed};
  if (base == "depth5" || base == "depth10" || base == "depth20") return {ch.depth_partial, name.substr(5)};
  return {};
}

}  // namespace mdbus::venues
