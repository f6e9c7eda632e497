// The venues' REST endpoints: one listener per venue (the venues serve REST from their own
// hosts, not from the stream hosts), each with one dispatch function over one table of that
// venue's paths, with the venue's request weights or limits per client IP.
//
// feeders/CONFORMANCE.md "Hosts and REST", "Trade history" (checked 2026-12): Binance REST is
// api.binance.com, OKX REST www.okx.com; stream.binance.com and ws.okx.com serve no REST.
#include <charconv>
#include <cstring>
#include <span>
#include <string_view>

#include <nlohmann/json.hpp>

#include <libwebsockets.h>

#include "tools/exsim/server.hpp"

#include "tools/exsim/instruments.hpp"

namespace mdbus::exsim {
namespace {

using json = nlohmann::json;

// Value of `name` in the request's query string ("" if absent).
std::string query_arg(lws* wsi, const char* name) {
  char buf[512];
  const std::size_t nlen = std::strlen(name);
  for (int i = 0; i < 32; ++i) {
    const int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    const std::string_view kv(buf, static_cast<std::size_t>(n));
    if (kv.size() > nlen && kv.compare(0, nlen, name) == 0 && kv[nlen] == '=') return std::string(kv.substr(nlen + 1));
  }
  return {};
}

std::string peer_ip(lws* wsi) {
  char ip[64] = {0};
  lws_get_peer_simple(wsi, ip, sizeof ip);
  return ip;
}

// The request's `limit`, or `fallback` when absent or not a positive integer (the venue's
// default: such a request is answered 400 by the handler and costs the default weight).
long limit_arg(lws* wsi, long fallback) {
  const std::string text = query_arg(wsi, "limit");
  long limit = fallback;
  if (!text.empty()) {
    const auto r = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || limit <= 0) limit = fallback;
  }
  return limit;
}

// Binance rest-api.md "Order book" (checked 2026-12): weight by limit — 1-100: 5,
// 101-500: 25, 501-1000: 50, 1001-5000: 250; limit defaults to 100 (over 5000 is capped).
// A limit that does not parse is answered 400 by the handler; it costs the default weight.
std::int64_t binance_depth_weight(lws* wsi) {
  const long limit = limit_arg(wsi, 100);
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

// USD-M "Order Book" (2026-12): limit 5-50: weight 2, 100: 5, 500 (the default): 10, 1000: 20.
std::int64_t usdm_depth_weight(lws* wsi) {
  const long limit = limit_arg(wsi, 500);
  if (limit <= 50) return 2;
  if (limit <= 100) return 5;
  if (limit <= 500) return 10;
  return 20;
}

}  // namespace

/// One row per Binance REST path: its request weight (rest-api.md, checked 2026-12) and the
/// handler; a row without a handler is a documented weight for a path exsim does not serve yet
/// (answered 404, no weight). Add rows here.
struct server::binance_route {
  std::string_view path;
  std::int64_t weight;                    ///< fixed weight, or
  std::int64_t (*weight_of)(lws*);        ///< weight that depends on the parameters
  std::string (server::*serve)(lws*, int& status);
};

/// One row per OKX REST path: its rate limit per IP (OKX API v5 "Market Data" / "Public Data",
/// "Rate Limit: N requests per 2 seconds", checked 2026-12) and the handler. Add rows here.
struct server::okx_route {
  std::string_view path;
  int limit;            ///< requests per window per IP (0: from config, see okx_rest)
  std::int64_t window_ms;
  std::string (server::*serve)(lws*, int& status);
};

std::string server::binance_depth(lws* wsi, int& status) {
  return binance_.rest_depth(query_arg(wsi, "symbol"), query_arg(wsi, "limit"), now_ms_, status);
}

std::string server::usdm_depth(lws* wsi, int& status) {
  return usdm_.rest_depth(query_arg(wsi, "symbol"), query_arg(wsi, "limit"), now_ms_, status);
}

// Reference data general clients load first (ccxt: exchangeInfo, public/instruments):
// instruments.cpp answers them from the configured instruments.
std::string server::reference(lws* wsi, int& status) {
  const query_lookup query = [wsi](const char* name) { return query_arg(wsi, name); };
  rest_reply r;
  if (!serve_binance_reference(cfg_, rest_path_, query, now_ms_, r) && !serve_okx_reference(cfg_, rest_path_, query, now_ms_, r) &&
      !serve_usdm_reference(cfg_, rest_path_, query, now_ms_, r)) {
    status = 404;
    return json{{"code", -1}, {"msg", "Not found: " + rest_path_}}.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  status = r.status;
  return std::move(r.body);
}

// Trade history (trade_rest.cpp has the venues' rules): the path says the venue and the list.
std::string server::trades(lws* wsi, int& status) {
  const std::function<std::string(const char*)> query = [wsi](const char* name) { return query_arg(wsi, name); };
  const std::string_view p = rest_path_;
  if (p.starts_with("/api/v5/")) {
    status = 200;  // OKX answers parameter errors with HTTP 200 and its own code
    return okx_.rest_trades(query_arg(wsi, "instId"), query, p.ends_with("history-trades"));
  }
  const binance_feed& feed = p.starts_with("/fapi/") ? usdm_ : binance_;
  if (p.ends_with("aggTrades")) return feed.rest_agg_trades(query_arg(wsi, "symbol"), query, status);
  return feed.rest_trades(query_arg(wsi, "symbol"), query, p.ends_with("historicalTrades"), status);
}

std::string server::okx_books(lws* wsi, int& status) {
  status = 200;  // OKX answers parameter errors with HTTP 200 and its own code
  return okx_.rest_books(query_arg(wsi, "instId"), query_arg(wsi, "sz"), now_ms_);
}

void server::binance_rest(lws* wsi, session* s, const std::string& path, venue v) {
  static const binance_route kSpotRoutes[] = {
      {"/api/v3/depth", 0, binance_depth_weight, &server::binance_depth},
      {"/api/v3/exchangeInfo", 20, nullptr, &server::reference},
      {"/api/v3/trades", 25, nullptr, &server::trades},
      {"/api/v3/historicalTrades", 25, nullptr, &server::trades},
      {"/api/v3/aggTrades", 4, nullptr, &server::trades},
      {"/api/v3/ping", 1, nullptr, &server::reference},
      {"/api/v3/time", 1, nullptr, &server::reference},
  };
  // USD-M (fapi.binance.com), "Market Data Endpoints" weights (2026-12).
  static const binance_route kUsdmRoutes[] = {
      {"/fapi/v1/depth", 0, usdm_depth_weight, &server::usdm_depth},
      {"/fapi/v1/exchangeInfo", 1, nullptr, &server::reference},
      {"/fapi/v1/trades", 5, nullptr, &server::trades},
      {"/fapi/v1/historicalTrades", 20, nullptr, &server::trades},
      {"/fapi/v1/aggTrades", 20, nullptr, &server::trades},
      {"/fapi/v1/ping", 1, nullptr, &server::reference},
      {"/fapi/v1/time", 1, nullptr, &server::reference},
  };
  const bool usdm = v == venue::binance_usdm;
  const binance_config& bc = usdm ? cfg_.usdm : cfg_.binance;
  binance_weight_budget& budget = usdm ? usdm_weight_ : binance_weight_;
  const binance_route* route = nullptr;
  for (const auto& r : usdm ? std::span<const binance_route>(kUsdmRoutes) : std::span<const binance_route>(kSpotRoutes))
    if (r.path == path && r.serve != nullptr) route = &r;
  const std::int64_t weight = route == nullptr ? 0 : route->weight_of != nullptr ? route->weight_of(wsi) : route->weight;
  // rest-api.md "LIMITS" (checked 2026-12): every answer carries X-MBX-USED-WEIGHT-1M, the
  // weight this IP used in the current window; 429 carries Retry-After; ignoring it → 418.
  const rest_verdict verdict = budget.admit(peer_ip(wsi), weight, now_us_ / 1000);
  http_headers headers = {{"x-mbx-used-weight-1m:", std::to_string(verdict.used)}};
  if (verdict.status != 200) {
    headers.emplace_back("retry-after:", std::to_string(verdict.retry_after_s));
    const std::int64_t w = bc.weight_window_ms;
    const std::string per = w % 60000 == 0 ? std::to_string(w / 60000) + " MINUTE" : std::to_string(w) + " MILLISECOND";
    const std::string msg =
        verdict.status == 429
            ? "Too much request weight used; current limit is " + std::to_string(bc.weight_limit) +
                  " request weight per " + per + ". Please use WebSocket Streams for live updates to avoid polling the API."
            : "Way too much request weight used; IP banned until " +
                  std::to_string(now_ms_ + verdict.retry_after_s * 1000) +
                  ". Please use WebSocket Streams for live updates to avoid bans.";
    http_reply(wsi, s, verdict.status, json{{"code", -1003}, {"msg", msg}}.dump(), headers);
    return;
  }
  if (route == nullptr) {
    http_reply(wsi, s, 404, json{{"code", -1}, {"msg", "Not found: " + path}}.dump(-1, ' ', false, json::error_handler_t::replace),
               headers);
    return;
  }
  int status = 200;
  rest_path_ = path;
  std::string body = (this->*route->serve)(wsi, status);
  http_reply(wsi, s, status, std::move(body), headers);
}

void server::okx_rest(lws* wsi, session* s, const std::string& path) {
  static const okx_route kRoutes[] = {
      {"/api/v5/market/books", 0, 0, &server::okx_books},  // 40 per 2 s: okx.books_rest_limit
      {"/api/v5/market/trades", 100, 2000, &server::trades},
      {"/api/v5/market/history-trades", 20, 2000, &server::trades},
      {"/api/v5/public/instruments", 20, 2000, &server::reference},
      {"/api/v5/public/time", 10, 2000, &server::reference},
  };
  const okx_route* route = nullptr;
  for (const auto& r : kRoutes)
    if (r.path == path && r.serve != nullptr) route = &r;
  if (route == nullptr) {
    (void)okx_requests_.admit(peer_ip(wsi), path, 0, 1, now_us_ / 1000);  // counted, no limit
    http_reply(wsi, s, 404, json{{"code", "404"}, {"msg", "Not found: " + path}, {"data", json::array()}}.dump(
                                -1, ' ', false, json::error_handler_t::replace));
    return;
  }
  const bool books = route->limit == 0;
  const rest_verdict v = okx_requests_.admit(peer_ip(wsi), route->path, books ? cfg_.okx.books_rest_limit : route->limit,
                                             books ? cfg_.okx.books_rest_window_ms : route->window_ms, now_us_ / 1000);
  if (v.status != 200) {
    // OKX "REST API" / "Rate limit" (checked 2026-12): over the limit → HTTP 429 and code 50011.
    http_reply(wsi, s, 429, R"({"code":"50011","msg":"Too Many Requests","data":[]})");
    return;
  }
  int status = 200;
  rest_path_ = path;
  std::string body = (this->*route->serve)(wsi, status);
  http_reply(wsi, s, status, std::move(body));
}

void server::venue_http(lws* wsi, session* s, const std::string& path) {
  // The stream hosts serve no REST; --rest-on-stream-port keeps the old exsim (both venues'
  // REST on the stream port), counted against the same per-IP budgets as the REST listeners.
  if (cfg_.rest_on_stream_port) {
    if (path.rfind("/api/v3/", 0) == 0) return binance_rest(wsi, s, path, venue::binance);
    if (path.rfind("/fapi/v1/", 0) == 0) return binance_rest(wsi, s, path, venue::binance_usdm);
    if (path.rfind("/api/v5/", 0) == 0) return okx_rest(wsi, s, path);
  }
  http_reply(wsi, s, 404,
             json{{"code", -1}, {"msg", "Not found: " + path + " (the stream port serves no REST; see --binance-rest-port, "
                                                              "--okx-rest-port)"}}
                 .dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace mdbus::exsim
