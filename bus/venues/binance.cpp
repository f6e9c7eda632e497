#include "mdbus/venues/binance.hpp"
#include "bus/venues/grammar.hpp"

namespace mdbus::venues {
namespace {

/// rest-api.md "Exchange information": symbols are upper-case letters and digits
/// ("BTCUSDT"); stream names use them in lower case (the adapter lowers them).
std::string symbol_problem(std::string_view s) {
  if (s.empty()) return "empty symbol";
  for (const char c : s)
    if (!upper_or_digit(c))
      return "\"" + std::string(s) + "\" is not a Binance symbol (upper-case letters and digits, e.g. \"BTCUSDT\")";
  return {};
}

/// web-socket-streams.md, the stream names we decode: <symbol>@trade, @aggTrade,
/// @bookTicker, @depth[@100ms|@1000ms], @depth5|10|20[@100ms|@1000ms]. The update speed
/// rides after a second '@'.
parsed_channel parse_channel(std::string_view name) noexcept {
  return parse_binance_stream(name, {channel::binance_trade, channel::binance_agg_trade, channel::binance_book_ticker,
                                                   channel::binance_depth, channel::binance_depth_partial},
                              {"100ms", "1000ms"});
}

std::string login_only_reason(std::string_view) { return {}; }  // every spot market stream is public

constinit const venue_descriptor kBinance{
    .id = venue::binance,
    .name = "binance",
    .title = "Binance",
    .symbol_example = "BTCUSDT",
    .channel_spellings = "trade, aggTrade, bookTicker, depth[@100ms|@1000ms], depth5|10|20[@100ms|@1000ms]",
    .endpoints = {.stream_host = "stream.binance.com",
                  .stream_port = 9443,
                  .rest_host = "api.binance.com",
                  .rest_port = 443,
                  .source = "Binance web-socket-streams.md, General WSS information; rest-api.md, General API Information (2026-12)"},
    .channels = kBinanceChannels,
    // web-socket-streams.md "General WSS information": "A single connection to
    // stream.binance.com is only valid for 24 hours; expect to be disconnected at the 24 hour
    // mark". No idle cut: the server pings every 20 s and wants a pong within a minute.
    .timing = {.max_age_ms = 86'400'000,
               .idle_cut_ms = 0,
               .max_age_source = "Binance web-socket-streams.md, General WSS information (2026-12)",
               .idle_cut_source = {}},
    .limits = {.rest = {.calendar_window = true,
                        .units = kBinanceRestWeightPerMinute,
                        .window_ms = 60'000,
                        .our_fraction = 0.5,
                        .source = "Binance rest-api.md, LIMITS (2026-12)"},
               .connect = {.calendar_window = false,
                           .units = kBinanceConnectsPer5Min,
                           .window_ms = 300'000,
                           .our_fraction = 0.5,
                           .source = "Binance web-socket-streams.md, WebSocket Limits (2026-12)"}},
    .symbol_problem = symbol_problem,
    .parse_channel = parse_channel,
    .login_only_reason = login_only_reason,
    // web-socket-streams.md "WebSocket Limits": "WebSocket connections have a limit of 5
    // incoming messages per second. A message is considered: A PING frame, A PONG frame, A JSON
    // controlled message (e.g. subscribe, unsubscribe)"; "A single connection can listen to a
    // maximum of 1024 streams."
    .connection = {.max_streams = 1024,
                   .control_messages_per_s = 5,
                   .source = "Binance web-socket-streams.md, WebSocket Limits (2026-12)"},
};

}  // namespace

const venue_descriptor& binance() noexcept { return kBinance; }

}  // namespace mdbus::venues
