#include "mdbus/venues/registry.hpp"
#include "bus/venues/grammar.hpp"

namespace mdbus::venues {
namespace {

/// OKX v5 "Get instruments": instId is upper-case parts joined by '-' ("BTC-USDT",
/// "BTC-USDT-SWAP", "BTC-USD-250328").
std::string symbol_problem(std::string_view s) {
  if (s.empty()) return "empty symbol";
  bool ok = s.find('-') != std::string_view::npos && s.front() != '-' && s.back() != '-' &&
            s.find("--") == std::string_view::npos;
  for (const char c : s) ok = ok && (upper_or_digit(c) || c == '-');
  if (ok) return {};
  return "\"" + std::string(s) + "\" is not an OKX instId (upper-case parts joined by '-', e.g. \"BTC-USDT\")";
}

/// The channel names of the OKX v5 public channels we decode: the name is the spelling.
parsed_channel parse_channel(std::string_view name) noexcept {
  if (const auto ch = channel_from_string(venue::okx, name)) return {*ch, {}};
  return {};
}

/// OKX v5 "Order book channel" (2026-12): books-l2-tbt and books50-l2-tbt need a login (VIP
/// tiers); a public subscription is answered with 60011 "Please log in".
std::string login_only_reason(std::string_view name) {
  if (name == "books-l2-tbt" || name == "books50-l2-tbt")
    return "\"" + std::string(name) +
           "\" needs a logged-in connection (OKX answers a public subscription with 60011 \"Please log in\"); "
           "use \"books\" (400 levels, 100 ms) or \"bbo-tbt\"";
  return {};
}

/// OKX v5 "Funding rate channel" (2026-12): perpetual swaps only (instType SWAP, instIds ending in
/// "-SWAP"); OKX refuses the subscription for any other instId.
std::string subscription_problem(channel c, std::string_view inst_id) {
  if (c == channel::okx_funding_rate && okx_inst_type(inst_id) != "SWAP")
    return "funding-rate is for perpetual swaps (an instId ending in -SWAP), not \"" + std::string(inst_id) + "\"";
  return {};
}

constinit const venue_descriptor kOkx{
    .id = venue::okx,
    .name = "okx",
    .title = "OKX",
    .symbol_example = "BTC-USDT",
    .channel_spellings = "trades, tickers, bbo-tbt, books, books5, mark-price, funding-rate",
    .endpoints = {.stream_host = "ws.okx.com",
                  .stream_port = 8443,
                  .rest_host = "www.okx.com",
                  .rest_port = 443,
                  .source = "OKX v5 API, Overview: WebSocket, Production Trading Services; REST (2026-12)"},
    .channels = kOkxChannels,
    // OKX v5 "WebSocket / Connect": no age limit; "If there's no data return after
    // connecting/subscribing, the connection will break after 30 seconds" — hence a
    // keepalive ("ping") before 30 s of silence.
    .timing = {.max_age_ms = 0,
               .idle_cut_ms = 30'000,
               .max_age_source = {},
               .idle_cut_source = "OKX v5 API, WebSocket: Connect (2026-12)"},
    .limits = {.rest = {.calendar_window = false,
                        .units = kOkxBooksPer2s,
                        .window_ms = 2'000,
                        .our_fraction = 0.75,
                        .source = "OKX v5 API, Market data: Get order book (2026-12)"},
               .connect = {.calendar_window = false,
                           .units = kOkxConnectsPerSecond,
                           .window_ms = 1'000,
                           .our_fraction = 0.75,
                           .source = "OKX v5 API, WebSocket: Connect (2026-12)"}},
    .symbol_problem = symbol_problem,
    .parse_channel = parse_channel,
    .login_only_reason = login_only_reason,
    .subscription_problem = subscription_problem,
    // No documented stream count per connection; a subscribe request's args are limited to 64 KB
    // and 480 subscribe/unsubscribe requests per connection an hour ("WebSocket: Subscribe").
    .connection = {.max_streams = 0, .control_messages_per_s = 0, .source = {}},
};

}  // namespace

const venue_descriptor& okx() noexcept { return kOkx; }

}  // namespace mdbus::venues
