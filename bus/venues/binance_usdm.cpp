#include "mdbus/venues/binance_usdm.hpp"
#include "bus/venues/grammar.hpp"

namespace mdbus::venues {
namespace {

/// "Exchange Information": perpetual symbols are upper-case letters and digits ("BTCUSDT");
/// delivery contracts add "_" and the date ("BTCUSDT_251226"). Stream names use them in lower case.
std::string symbol_problem(std::string_view s) {
  if (s.empty()) return "empty symbol";
  bool ok = s.front() != '_' && s.back() != '_' && s.find("__") == std::string_view::npos;
  for (const char c : s) ok = ok && (upper_or_digit(c) || c == '_');
  if (ok) return {};
  return "\"" + std::string(s) +
         "\" is not a Binance USD-M symbol (upper-case letters and digits, \"_<date>\" for delivery, e.g. \"BTCUSDT\")";
}

/// "WebSocket Market Streams", the stream names we decode: <symbol>@trade, @aggTrade,
/// @bookTicker, @depth[@500ms|@100ms|@0ms], @depth5|10|20[@500ms|@100ms|@0ms] (250 ms without a
/// speed), @markPrice[@1s] (3 s or 1 s). @0ms is what the captures subscribe to (hftbacktest_usdm: btcusdt@depth@0ms).
parsed_channel parse_channel(std::string_view name) noexcept {
  return parse_binance_stream(name, {channel::usdm_trade, channel::usdm_agg_trade, channel::usdm_book_ticker,
                                                   channel::usdm_depth, channel::usdm_depth_partial, channel::usdm_mark_price},
                              {"500ms", "100ms", "0ms"});
}

std::string login_only_reason(std::string_view) { return {}; }  // every market stream is public

constinit const venue_descriptor kBinanceUsdm{
    .id = venue::binance_usdm,
    .name = "binance_usdm",
    .title = "Binance USD-M",
    .symbol_example = "BTCUSDT",
    .channel_spellings = "trade, aggTrade, markPrice[@1s] (/market); bookTicker, depth[@500ms|@100ms|@0ms], "
                         "depth5|10|20[@500ms|@100ms|@0ms] (/public)",
    // "WebSocket Market Streams": wss://fstream.binance.com, routed paths /public and /market
    // (change log 2026-04-23); REST https://fapi.binance.com ("General Info").
    .endpoints = {.stream_host = "fstream.binance.com",
                  .stream_port = 443,
                  .rest_host = "fapi.binance.com",
                  .rest_port = 443,
                  .source = "Binance USD-M Futures, WebSocket Market Streams; General Info (2026-12)"},
    .channels = kUsdmChannels,
    // "WebSocket Market Streams": "A single connection is only valid for 24 hours"; the server
    // pings every 3 minutes and wants a pong within 10. No idle cut.
    .timing = {.max_age_ms = 86'400'000,
               .idle_cut_ms = 0,
               .max_age_source = "Binance USD-M Futures, WebSocket Market Streams (2026-12)",
               .idle_cut_source = {}},
    .limits = {.rest = {.calendar_window = true,
                        .units = kUsdmRestWeightPerMinute,
                        .window_ms = 60'000,
                        .our_fraction = 0.5,
                        .source = "Binance USD-M Futures, General Info: Limits (2026-12)"},
               .connect = {.calendar_window = false,
                           .units = kUsdmConnectsPer5Min,
                           .window_ms = 300'000,
                           .our_fraction = 0.5,
                           .source = "Binance USD-M Futures, WebSocket Market Streams (2026-12)"}},
    .symbol_problem = symbol_problem,
    .parse_channel = parse_channel,
    .login_only_reason = login_only_reason,
    // "WebSocket Market Streams": "WebSocket connections have a limit of 10 incoming messages
    // per second"; "A single connection can listen to a maximum of 1024 streams."
    .connection = {.max_streams = 1024,
                   .control_messages_per_s = 10,
                   .source = "Binance USD-M Futures, WebSocket Market Streams (2026-12)"},
};

}  // namespace

const venue_descriptor& binance_usdm() noexcept { return kBinanceUsdm; }

}  // namespace mdbus::venues
