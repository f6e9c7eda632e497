// Venue reference data over REST (instrument lists, server time). Sources, checked 2026-12:
// Binance binance-spot-api-docs rest-api.md "General endpoints" (Test connectivity, Check
// server time, Exchange information) and filters.md; OKX API v5 docs "Public Data > REST API"
// (Get instruments, Get system time) and "Error Code > REST API".
#include "tools/exsim/instruments.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/exsim/decimal.hpp"

namespace mdbus::exsim {
namespace {

// The venues' key order is kept (nlohmann::json would sort keys).
using ojson = nlohmann::ordered_json;

constexpr int kBinanceDecimals = 8;  // rest-api.md: every price and quantity has 8 decimals

std::string bn(std::int64_t mantissa, int scale) { return decimal_string(mantissa, scale, kBinanceDecimals); }
std::string okx_dec(std::int64_t mantissa, int scale) { return decimal_string(mantissa, scale, 0); }

rest_reply reply(int status, const ojson& body) { return {status, body.dump()}; }

// rest-api.md "Error codes": -1121 Invalid symbol. (HTTP 400 like every 4XX request error).
rest_reply binance_invalid_symbol() { return reply(400, ojson{{"code", -1121}, {"msg", "Invalid symbol."}}); }

// One listed symbol: streamed ones trade, halted ones are listed only (status BREAK).
struct listed {
  instrument_config inst;
  const char* status;
};

std::vector<listed> binance_listing(const exsim_config& cfg) {
  std::vector<listed> out;
  for (const auto& i : cfg.binance.instruments) out.push_back({i, "TRADING"});
  for (const auto& s : cfg.binance.halted) out.push_back({instrument_for(s), "BREAK"});
  return out;
}

std::vector<listed> okx_listing(const exsim_config& cfg) {
  std::vector<listed> out;
  for (const auto& i : cfg.okx.instruments) out.push_back({i, "live"});
  for (const auto& s : cfg.okx.suspended) out.push_back({instrument_for(s), "suspend"});
  return out;
}

// filters.md: the filters the venue attaches to a spot symbol. PRICE_FILTER.tickSize and
// LOT_SIZE.stepSize are exsim's price and quantity units, so every streamed price and
// quantity is a multiple of them; the limits are wide enough for the simulated market.
ojson binance_filters(const instrument_config& i) {
  const std::string tick = bn(1, i.price_scale);
  const std::string step = bn(1, i.qty_scale);
  return ojson::array({
      ojson{{"filterType", "PRICE_FILTER"}, {"minPrice", tick}, {"maxPrice", "1000000.00000000"}, {"tickSize", tick}},
      ojson{{"filterType", "LOT_SIZE"}, {"minQty", step}, {"maxQty", "9000.00000000"}, {"stepSize", step}},
      ojson{{"filterType", "ICEBERG_PARTS"}, {"limit", 10}},
      ojson{{"filterType", "MARKET_LOT_SIZE"}, {"minQty", "0.00000000"}, {"maxQty", "9000.00000000"},
            {"stepSize", "0.00000000"}},
      ojson{{"filterType", "TRAILING_DELTA"}, {"minTrailingAboveDelta", 10}, {"maxTrailingAboveDelta", 2000},
            {"minTrailingBelowDelta", 10}, {"maxTrailingBelowDelta", 2000}},
      ojson{{"filterType", "PERCENT_PRICE_BY_SIDE"}, {"bidMultiplierUp", "5"}, {"bidMultiplierDown", "0.2"},
            {"askMultiplierUp", "5"}, {"askMultiplierDown", "0.2"}, {"avgPriceMins", 5}},
      ojson{{"filterType", "NOTIONAL"}, {"minNotional", "5.00000000"}, {"applyMinToMarket", true},
            {"maxNotional", "9000000.00000000"}, {"applyMaxToMarket", false}, {"avgPriceMins", 5}},
      ojson{{"filterType", "MAX_NUM_ORDERS"}, {"maxNumOrders", 200}},
      ojson{{"filterType", "MAX_NUM_ALGO_ORDERS"}, {"maxNumAlgoOrders", 5}},
  });
}

ojson binance_symbol(const listed& l) {
  const auto [base, quote] = binance_assets(l.inst.symbol);
  return ojson{
      {"symbol", l.inst.symbol},
      {"status", l.status},
      {"baseAsset", base},
      {"baseAssetPrecision", kBinanceDecimals},
      {"quoteAsset", quote},
      {"quotePrecision", kBinanceDecimals},
      {"quoteAssetPrecision", kBinanceDecimals},
      {"baseCommissionPrecision", kBinanceDecimals},
      {"quoteCommissionPrecision", kBinanceDecimals},
      {"orderTypes", ojson::array({"LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})},
      {"icebergAllowed", true},
      {"ocoAllowed", true},
      {"otoAllowed", true},
      {"quoteOrderQtyMarketAllowed", true},
      {"allowTrailingStop", true},
      {"cancelReplaceAllowed", true},
      {"amendAllowed", true},
      {"isSpotTradingAllowed", true},
      {"isMarginTradingAllowed", false},
      {"filters", binance_filters(l.inst)},
      {"permissions", ojson::array()},
      {"permissionSets", ojson::array({ojson::array({"SPOT"})})},
      {"defaultSelfTradePreventionMode", "EXPIRE_MAKER"},
      {"allowedSelfTradePreventionModes", ojson::array({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})},
  };
}

rest_reply binance_exchange_info(const exsim_config& cfg, const query_lookup& query, std::int64_t now_ms) {
  const auto all = binance_listing(cfg);
  std::vector<const listed*> chosen;
  const std::string symbol = query("symbol");
  const std::string symbols = query("symbols");
  const std::string status = query("symbolStatus");
  auto find = [&](const std::string& s) -> const listed* {
    for (const auto& l : all)
      if (l.inst.symbol == s) return &l;
    return nullptr;
  };
  if (!symbol.empty()) {
    const listed* l = find(symbol);
    if (l == nullptr) return binance_invalid_symbol();
    chosen.push_back(l);
  } else if (!symbols.empty()) {
    // symbols=["BTCUSDT","BNBBTC"]: a JSON array of names, answered in the order asked.
    const auto arr = ojson::parse(symbols, nullptr, false);
    if (!arr.is_array() || arr.empty() || !std::all_of(arr.begin(), arr.end(), [](const ojson& e) { return e.is_string(); }))
      return reply(400, ojson{{"code", -1100},
                              {"msg", "Illegal characters found in parameter 'symbols'; legal range is "
                                      "'^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'."}});
    for (const auto& e : arr) {
      const listed* l = find(e.get<std::string>());
      if (l == nullptr) return binance_invalid_symbol();
      chosen.push_back(l);
    }
  } else {
    for (const auto& l : all)
      // symbolStatus=TRADING|HALT|BREAK lists only the symbols in that state.
      if (status.empty() || status == l.status) chosen.push_back(&l);
  }
  ojson list = ojson::array();
  for (const listed* l : chosen) list.push_back(binance_symbol(*l));
  return reply(200, ojson{
                        {"timezone", "UTC"},
                        {"serverTime", now_ms},
                        {"rateLimits",
                         ojson::array({ojson{{"rateLimitType", "REQUEST_WEIGHT"}, {"interval", "MINUTE"}, {"intervalNum", 1}, {"limit", 6000}},
                          ojson{{"rateLimitType", "ORDERS"}, {"interval", "SECOND"}, {"intervalNum", 10}, {"limit", 100}},
                          ojson{{"rateLimitType", "ORDERS"}, {"interval", "DAY"}, {"intervalNum", 1}, {"limit", 200000}},
                          ojson{{"rateLimitType", "RAW_REQUESTS"}, {"interval", "MINUTE"}, {"intervalNum", 5}, {"limit", 61000}}})},
                        {"exchangeFilters", ojson::array()},
                        {"symbols", list},
                    });
}

// OKX "Error Code > REST API": 50014 (HTTP 400) Parameter {param0} can not be empty;
// 51000 (HTTP 400) Parameter {param0} error; 51001 (HTTP 200) Instrument ID does not exist.
rest_reply okx_error(int http, const char* code, const std::string& msg) {
  return reply(http, ojson{{"code", code}, {"msg", msg}, {"data", ojson::array()}});
}

/// OKX v5 "Get instruments" for a perpetual (instType SWAP): sizes are in contracts of ctVal
/// ctValCcy each (BTC-USDT-SWAP 0.01 BTC, ETH-USDT-SWAP 0.1 ETH as on OKX; 1 otherwise); no base
/// or quote currency, an underlying instead.
ojson okx_swap_instrument(const listed& l) {
  const std::string& id = l.inst.symbol;
  const std::string uly = id.substr(0, id.size() - 5);  // "BTC-USDT"
  const auto dash = uly.find('-');
  const std::string base = uly.substr(0, dash);
  const std::string lot = okx_dec(1, l.inst.qty_scale);
  return ojson{
      {"alias", ""},          {"auctionEndTime", ""},  {"baseCcy", ""},
      {"category", "1"},      {"ctMult", "1"},         {"ctType", "linear"},
      {"ctVal", okx_swap_ct_val(base)}, {"ctValCcy", base}, {"contTdSwTime", ""},
      {"expTime", ""},        {"futureSettlement", false}, {"instFamily", uly},
      {"instId", id},         {"instType", "SWAP"},    {"lever", "100"},
      {"listTime", "1606468572000"}, {"lotSz", lot},   {"maxIcebergSz", "100000000"},
      {"maxLmtAmt", "20000000"}, {"maxLmtSz", "100000000"}, {"maxMktAmt", ""},
      {"maxMktSz", "12000"},  {"maxStopSz", "12000"},  {"maxTriggerSz", "100000000"},
      {"maxTwapSz", "100000000"}, {"minSz", lot},      {"optType", ""},
      {"openType", ""},       {"quoteCcy", ""},        {"tradeQuoteCcyList", ojson::array()},
      {"settleCcy", uly.substr(dash + 1)}, {"state", l.status}, {"ruleType", "normal"},
      {"stk", ""},            {"tickSz", okx_dec(1, l.inst.price_scale)}, {"uly", uly},
  };
}

ojson okx_instrument(const listed& l) {
  if (l.inst.symbol.ends_with("-SWAP")) return okx_swap_instrument(l);
  const std::string& id = l.inst.symbol;
  const auto dash = id.find('-');
  const std::string lot = okx_dec(1, l.inst.qty_scale);
  return ojson{
      {"alias", ""},          {"auctionEndTime", ""},  {"baseCcy", id.substr(0, dash)},
      {"category", "1"},      {"ctMult", ""},          {"ctType", ""},
      {"ctVal", ""},          {"ctValCcy", ""},        {"contTdSwTime", ""},
      {"expTime", ""},        {"futureSettlement", false}, {"instFamily", ""},
      {"instId", id},         {"instType", "SPOT"},    {"lever", ""},
      {"listTime", "1606468572000"}, {"lotSz", lot},   {"maxIcebergSz", "9999999999"},
      {"maxLmtAmt", "1000000"}, {"maxLmtSz", "9999999999"}, {"maxMktAmt", "1000000"},
      {"maxMktSz", "1000000"}, {"maxStopSz", "1000000"}, {"maxTriggerSz", "9999999999"},
      {"maxTwapSz", "9999999999"}, {"minSz", lot},     {"optType", ""},
      {"openType", ""},       {"quoteCcy", id.substr(dash + 1)}, {"tradeQuoteCcyList", ojson::array({id.substr(dash + 1)})},
      {"settleCcy", ""},      {"state", l.status},     {"ruleType", "normal"},
      {"stk", ""},            {"tickSz", okx_dec(1, l.inst.price_scale)}, {"uly", ""},
  };
}

rest_reply okx_instruments(const exsim_config& cfg, const query_lookup& query) {
  const std::string type = query("instType");
  const std::string inst_id = query("instId");
  if (type.empty()) return okx_error(400, "50014", "Parameter instType can not be empty.");
  constexpr std::array<std::string_view, 5> kTypes = {"SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"};
  if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
    return okx_error(400, "51000", "Parameter instType error");
  // OPTION needs uly or instFamily (Get instruments: "required for OPTION").
  if (type == "OPTION" && query("uly").empty() && query("instFamily").empty())
    return okx_error(400, "50014", "Parameter uly can not be empty.");
  ojson data = ojson::array();
  // exsim simulates spot instruments and perpetual swaps ("-SWAP"), each listed under its own
  // instType; margin, futures and options list nothing.
  if (type == "SPOT" || type == "SWAP") {
    for (const auto& l : okx_listing(cfg))
      if (l.inst.symbol.ends_with("-SWAP") == (type == "SWAP") && (inst_id.empty() || inst_id == l.inst.symbol))
        data.push_back(okx_instrument(l));
  }
  if (!inst_id.empty() && data.empty()) return okx_error(200, "51001", "Instrument ID does not exist.");
  return reply(200, ojson{{"code", "0"}, {"msg", ""}, {"data", data}});
}

}  // namespace

std::pair<std::string, std::string> binance_assets(const std::string& symbol) {
  // Longest suffix first, so FDUSD is not read as ...USD and BTCUSDT not as BTCUSD+T.
  static constexpr std::array<std::string_view, 16> kQuotes = {"FDUSD", "USDT", "USDC", "TUSD", "BUSD", "EURI",
                                                               "TRY",   "BRL",  "EUR",  "JPY",  "BTC",  "ETH",
                                                               "BNB",   "DAI",  "ARS",  "MXN"};
  for (const auto q : kQuotes)
    if (symbol.size() > q.size() && symbol.compare(symbol.size() - q.size(), q.size(), q) == 0)
      return {symbol.substr(0, symbol.size() - q.size()), std::string(q)};
  const std::size_t cut = symbol.size() > 4 ? symbol.size() - 4 : symbol.size() / 2;
  return {symbol.substr(0, cut), symbol.substr(cut)};
}

bool serve_binance_reference(const exsim_config& cfg, const std::string& path, const query_lookup& query,
                             std::int64_t now_ms, rest_reply& out) {
  if (path == "/api/v3/exchangeInfo") {
    out = binance_exchange_info(cfg, query, now_ms);
  } else if (path == "/api/v3/ping") {  // "Test connectivity": {}
    out = {200, "{}"};
  } else if (path == "/api/v3/time") {  // "Check server time": {"serverTime":…}
    out = reply(200, ojson{{"serverTime", now_ms}});
  } else {
    return false;
  }
  return true;
}

// USDⓈ-M Futures "Exchange Information" (GET /fapi/v1/exchangeInfo, 2026-12): every symbol at
// once (no filter parameter), perpetuals with contractType PERPETUAL; streamed symbols TRADING,
// usdm.halted ones SETTLING. The precisions are the instrument's (prices "61800.30").
bool serve_usdm_reference(const exsim_config& cfg, const std::string& path, const query_lookup&, std::int64_t now_ms,
                          rest_reply& out) {
  if (path == "/fapi/v1/exchangeInfo") {
    ojson list = ojson::array();
    auto add = [&](const instrument_config& i, const char* status) {
      const auto [base, quote] = binance_assets(i.symbol);
      list.push_back(ojson{{"symbol", i.symbol},
                           {"pair", i.symbol},
                           {"contractType", "PERPETUAL"},
                           {"status", status},
                           {"baseAsset", base},
                           {"quoteAsset", quote},
                           {"marginAsset", quote},
                           {"pricePrecision", i.price_scale},
                           {"quantityPrecision", i.qty_scale},
                           {"filters", ojson::array({ojson{{"filterType", "PRICE_FILTER"},
                                                           {"tickSize", decimal_string(1, i.price_scale, i.price_scale)}},
                                                     ojson{{"filterType", "LOT_SIZE"},
                                                           {"stepSize", decimal_string(1, i.qty_scale, i.qty_scale)}}})}});
    };
    for (const auto& i : cfg.usdm.instruments) add(i, "TRADING");
    for (const auto& h : cfg.usdm.halted) add(instrument_for(h), "SETTLING");
    out = reply(200, ojson{{"timezone", "UTC"},
                           {"serverTime", now_ms},
                           {"rateLimits", ojson::array({ojson{{"rateLimitType", "REQUEST_WEIGHT"},
                                                              {"interval", "MINUTE"},
                                                              {"intervalNum", 1},
                                                              {"limit", cfg.usdm.weight_limit}}})},
                           {"exchangeFilters", ojson::array()},
                           {"symbols", list}});
  } else if (path == "/fapi/v1/ping") {
    out = {200, "{}"};
  } else if (path == "/fapi/v1/time") {
    out = reply(200, ojson{{"serverTime", now_ms}});
  } else {
    return false;
  }
  return true;
}

bool serve_okx_reference(const exsim_config& cfg, const std::string& path, const query_lookup& query,
                         std::int64_t now_ms, rest_reply& out) {
  if (path == "/api/v5/public/instruments") {
    out = okx_instruments(cfg, query);
  } else if (path == "/api/v5/public/time") {  // "Get system time": data [{"ts":"<ms>"}]
    out = reply(200, ojson{{"code", "0"}, {"msg", ""}, {"data", ojson::array({ojson{{"ts", std::to_string(now_ms)}}})}});
  } else {
    return false;
  }
  return true;
}

}  // namespace mdbus::exsim
