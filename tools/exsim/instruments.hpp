#pragma once
/// Venue reference data over REST: the instrument lists and clock endpoints that general
/// clients (ccxt's loadMarkets, exchange SDKs) call before they subscribe. Pure functions of
/// the config and the time: no I/O, no server state, so the HTTP handler only routes to them.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "tools/exsim/exsim_config.hpp"

namespace mdbus::exsim {

/// One REST answer: HTTP status and JSON body.
struct rest_reply {
  int status = 200;
  std::string body;
};

/// Value of a (URL-decoded) query parameter, "" when absent.
using query_lookup = std::function<std::string(const char* name)>;

/// Binance spot `GET /api/v3/exchangeInfo` (also `?symbol=` and `?symbols=[...]`,
/// `?symbolStatus=`), `GET /api/v3/ping`, `GET /api/v3/time`. Streamed symbols are
/// `TRADING`; `binance.halted` symbols are listed as `BREAK`. False: not one of these paths.
[[nodiscard]] bool serve_binance_reference(const exsim_config& cfg, const std::string& path,
                                           const query_lookup& query, std::int64_t now_ms, rest_reply& out);

/// OKX `GET /api/v5/public/instruments?instType=SPOT[&instId=]` and `GET /api/v5/public/time`.
/// Streamed instIds are `live`; `okx.suspended` ones are `suspend`. exsim simulates spot only:
/// the other instTypes answer an empty list. False: not one of these paths.
[[nodiscard]] bool serve_okx_reference(const exsim_config& cfg, const std::string& path, const query_lookup& query,
                                       std::int64_t now_ms, rest_reply& out);

/// Binance USD-M `GET /fapi/v1/exchangeInfo` (every symbol, PERPETUAL), `/fapi/v1/ping`,
/// `/fapi/v1/time`. Streamed symbols are `TRADING`; `binance_usdm.halted` ones `SETTLING`.
[[nodiscard]] bool serve_usdm_reference(const exsim_config& cfg, const std::string& path, const query_lookup& query,
                                        std::int64_t now_ms, rest_reply& out);

/// The contract value exsim lists for an OKX perpetual of base currency `base` (OKX's own for
/// BTC-USDT-SWAP, 0.01, and ETH-USDT-SWAP, 0.1; "1" otherwise).
[[nodiscard]] inline std::string okx_swap_ct_val(const std::string& base) {
  return base == "BTC" ? "0.01" : base == "ETH" ? "0.1" : "1";
}

/// Base and quote asset of a Binance symbol ("BTCUSDT" → "BTC", "USDT"), by the longest
/// known quote-asset suffix; a symbol with none splits before its last 4 characters.
[[nodiscard]] std::pair<std::string, std::string> binance_assets(const std::string& symbol);

}  // namespace mdbus::exsim
