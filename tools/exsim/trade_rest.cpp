// The venues' trade-history REST answers, from the trades exsim's streams carried
// (trade_history.hpp). Issue 16 (backfill): what a client fetches here to repair a hole is
// exactly what the stream sent, under the same ids.
//
// Binance spot rest-api.md "Market data endpoints" (checked 2026-12-07):
// - "Recent trades list" GET /api/v3/trades: symbol, limit (default 500, max 1000);
// - "Old trade lookup" GET /api/v3/historicalTrades: symbol, limit (500 / 1000), fromId
//   ("TradeId to fetch from. Default gets most recent trades."); both answer
//   [{"id","price","qty","quoteQty","time","isBuyerMaker","isBestMatch"}], oldest first;
// - "Compressed/Aggregate trades list" GET /api/v3/aggTrades: fromId ("ID to get aggregate
//   trades from INCLUSIVE"), startTime, endTime (inclusive), limit (500 / 1000); without any
//   of the three, the most recent; answers [{"a","p","q","f","l","T","m","M"}].
// USD-M "Recent Trades List", "Old Trades Lookup" (limit default 100, max 500),
// "Compressed/Aggregate Trades List" (startTime to endTime under 1 hour): the same shapes
// without isBestMatch / M.
// OKX v5 "Get trades" GET /api/v5/market/trades (limit default 100, max 500) and "Get trades
// history" GET /api/v5/market/history-trades (type 1: by tradeId, 2: by ts; after: older
// than, before: newer than; limit default and max 100): {"code":"0","msg":"","data":[{"instId",
// "side","sz","px","source","tradeId","ts"}]}, newest first, one row per trade.
//
// A limit over the documented maximum is served as the maximum (the docs give no error for
// it); a limit or id that is not a number gets the venue's parameter error.
#include <charconv>
#include <limits>
#include <optional>

#include "tools/exsim/binance_feed.hpp"
#include "tools/exsim/decimal.hpp"
#include "tools/exsim/okx_feed.hpp"

namespace mdbus::exsim {
namespace {

using query_fn = std::function<std::string(const char*)>;

/// A query argument that must be a non-negative integer: nullopt when absent; `bad` when
/// present and not one.
std::optional<std::int64_t> int_arg(const query_fn& q, const char* name, bool& bad) {
  const std::string text = q(name);
  if (text.empty()) return std::nullopt;
  std::int64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || v < 0) {
    bad = true;
    return std::nullopt;
  }
  return v;
}

std::string binance_illegal(const char* name) {
  return std::string(R"({"code":-1100,"msg":"Illegal characters found in parameter ')") + name +
         R"('; legal range is '^[0-9]{1,20}$'."})";
}

/// price x qty exactly, shortest form (Binance's quoteQty "48.000012").
void append_product(std::string& out, std::int64_t price, int price_scale, std::int64_t qty, int qty_scale) {
  std::int64_t p = 0;
  // Past 64 bits (not with exsim's instruments): the quantity's last digits are dropped until it fits.
  while (__builtin_mul_overflow(price, qty, &p) && qty_scale > 0) {
    qty /= 10;
    --qty_scale;
  }
  append_decimal(out, p, price_scale + qty_scale, 0);
}

}  // namespace

std::string binance_feed::rest_trades(std::string_view symbol, const query_fn& query, bool historical, int& http_status) const {
  const symbol_state* s = find(symbol);
  http_status = 400;
  if (s == nullptr) return R"({"code":-1121,"msg":"Invalid symbol."})";
  bool bad = false;
  const auto limit = int_arg(query, "limit", bad);
  if (bad || (limit && *limit == 0)) return binance_illegal("limit");
  const auto from = historical ? int_arg(query, "fromId", bad) : std::nullopt;
  if (bad) return binance_illegal("fromId");
  const std::int64_t max = bc_.futures && historical ? 500 : 1000;
  const std::int64_t dflt = bc_.futures && historical ? 100 : 500;
  const auto n = static_cast<std::size_t>(std::min(limit.value_or(dflt), max));
  const std::vector<trade_row> rows = from ? s->trades.from_id(*from, n) : s->trades.latest(n);
  const auto& inst = s->sim.instrument();
  std::string b = "[";
  for (const trade_row& r : rows) {
    if (b.size() > 1) b.push_back(',');
    b.append("{\"id\":");
    append_int(b, r.id);
    b.append(",\"price\":\"");
    px(b, *s, r.price);
    b.append("\",\"qty\":\"");
    qty(b, *s, r.qty);
    b.append("\",\"quoteQty\":\"");
    append_product(b, r.price, inst.price_scale, r.qty, inst.qty_scale);
    b.append("\",\"time\":");
    append_int(b, r.time_ms);
    b.append(",\"isBuyerMaker\":").append(r.taker_sold ? "true" : "false");
    b.append(bc_.futures ? "}" : ",\"isBestMatch\":true}");
  }
  b.push_back(']');
  http_status = 200;
  return b;
}

std::string binance_feed::rest_agg_trades(std::string_view symbol, const query_fn& query, int& http_status) const {
  const symbol_state* s = find(symbol);
  http_status = 400;
  if (s == nullptr) return R"({"code":-1121,"msg":"Invalid symbol."})";
  bool bad = false;
  const auto limit = int_arg(query, "limit", bad);
  if (bad || (limit && *limit == 0)) return binance_illegal("limit");
  const auto from = int_arg(query, "fromId", bad);
  if (bad) return binance_illegal("fromId");
  const auto start = int_arg(query, "startTime", bad);
  if (bad) return binance_illegal("startTime");
  const auto end = int_arg(query, "endTime", bad);
  if (bad) return binance_illegal("endTime");
  if (bc_.futures && start && end && *end - *start >= 3'600'000)
    return R"({"code":-1127,"msg":"More than 1 hours between startTime and endTime."})";
  const auto n = static_cast<std::size_t>(std::min<std::int64_t>(limit.value_or(500), 1000));
  std::vector<trade_row> rows;
  if (from)
    rows = s->aggs.from_id(*from, n);
  else if (start || end)
    rows = s->aggs.in_time(start.value_or(0), end.value_or(std::numeric_limits<std::int64_t>::max()), n);
  else
    rows = s->aggs.latest(n);
  std::string b = "[";
  for (const trade_row& r : rows) {
    if (b.size() > 1) b.push_back(',');
    b.append("{\"a\":");
    append_int(b, r.id);
    b.append(",\"p\":\"");
    px(b, *s, r.price);
    b.append("\",\"q\":\"");
    qty(b, *s, r.qty);
    b.append("\",\"f\":");
    append_int(b, r.first_id);
    b.append(",\"l\":");
    append_int(b, r.last_id);
    b.append(",\"T\":");
    append_int(b, r.time_ms);
    b.append(",\"m\":").append(r.taker_sold ? "true" : "false");
    b.append(bc_.futures ? "}" : ",\"M\":true}");
  }
  b.push_back(']');
  http_status = 200;
  return b;
}

std::string okx_feed::rest_trades(std::string_view inst_id, const query_fn& query, bool history) const {
  const inst_state* s = find(inst_id);
  if (s == nullptr) return R"({"code":"51001","msg":"Instrument ID does not exist","data":[]})";
  bool bad = false;
  const auto limit = int_arg(query, "limit", bad);
  if (bad || (limit && *limit == 0)) return R"({"code":"51000","msg":"Parameter limit error","data":[]})";
  const auto n = static_cast<std::size_t>(std::min<std::int64_t>(limit.value_or(100), history ? 100 : 500));
  using key = trade_history::key;
  std::vector<trade_row> rows;
  if (!history) {
    rows = s->fills.newer_than(key::id, -1, n);
  } else {
    const std::string type = query("type");
    if (!type.empty() && type != "1" && type != "2") return R"({"code":"51000","msg":"Parameter type error","data":[]})";
    const key k = type == "2" ? key::time : key::id;
    const auto after = int_arg(query, "after", bad);
    if (bad) return R"({"code":"51000","msg":"Parameter after error","data":[]})";
    const auto before = int_arg(query, "before", bad);
    if (bad) return R"({"code":"51000","msg":"Parameter before error","data":[]})";
    if (after) {  // the page just older than `after`, cut at `before` when both are given
      rows = s->fills.older_than(k, *after, n);
      if (before) std::erase_if(rows, [&](const trade_row& r) { return (k == key::id ? r.id : r.time_ms) <= *before; });
    } else {
      rows = s->fills.newer_than(k, before.value_or(-1), n);
    }
  }
  const auto& inst = s->sim.instrument();
  std::string b = R"({"code":"0","msg":"","data":[)";
  bool first = true;
  for (const trade_row& r : rows) {
    if (!first) b.push_back(',');
    first = false;
    b.append("{\"instId\":\"").append(inst.symbol).append("\",\"side\":\"").append(r.taker_sold ? "sell" : "buy");
    b.append("\",\"sz\":\"");
    append_decimal(b, r.qty, inst.qty_scale, 0);
    b.append("\",\"px\":\"");
    append_decimal(b, r.price, inst.price_scale, 0);
    b.append("\",\"source\":\"0\",\"tradeId\":");
    append_quoted_int(b, r.id);
    b.append(",\"ts\":");
    append_quoted_int(b, r.time_ms);
    b.push_back('}');
  }
  b.append("]}");
  return b;
}

}  // namespace mdbus::exsim
