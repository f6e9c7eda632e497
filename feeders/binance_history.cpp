// The Binance trade-history rows (binance_history.hpp). Spot rest-api.md "Market data
// endpoints" (checked 2026-12-07): "Old trade lookup" GET /api/v3/historicalTrades answers
// [{"id","price","qty","quoteQty","time","isBuyerMaker","isBestMatch"}], "Compressed/Aggregate
// trades list" GET /api/v3/aggTrades answers [{"a","p","q","f","l","T","m","M"}], both oldest
// first; USD-M "Compressed/Aggregate Trades List" GET /fapi/v1/aggTrades the same rows without
// M. The record is the one the stream gives for the trade (binance_events.cpp): seq = id (or a),
// aggTrade f..l, trade_count, aggressor from isBuyerMaker / m. Errors answer
// {"code":-1121,"msg":"Invalid symbol."}.
#include "feeders/binance_history.hpp"

#include "feeders/binance_events.hpp"

namespace mdbus::feed::detail::binance {
namespace {

/// One historicalTrades row.
failure trade_row(od::object& row, trade_record& r) noexcept {
  static constexpr std::string_view kNames[] = {"id", "price", "qty", "time", "isBuyerMaker"};
  decimal px, qty;
  bool buyer_maker = false;
  unsigned seen = 0;
  const failure f = for_each_field(row, [&](od::raw_json_string key, od::value& v) -> failure {
    int bit = -1;
    if (key_is(key, "id")) bit = 0;
    else if (key_is(key, "price")) bit = 1;
    else if (key_is(key, "qty")) bit = 2;
    else if (key_is(key, "time")) bit = 3;
    else if (key_is(key, "isBuyerMaker")) bit = 4;
    else return kOk;  // quoteQty, isBestMatch: not in the record
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    switch (bit) {
      case 0: e = read_u64(v, r.header.seq); break;
      case 1: e = read_decimal(v, px); break;
      case 2: e = read_qty(v, qty); break;
      case 3: e = read_ms_time(v, r.header.venue_time_ns); break;
      default: e = read_bool(v, buyer_maker); break;
    }
    return e == parse_error::none ? kOk : failure{e, kNames[bit]};
  });
  if (f) return f;
  if (const failure m = missing(seen, 0x1FU, kNames)) return m;
  if (const failure c = check_trade(px, qty, kNames[1], kNames[2])) return c;
  finish_trade(r, px, qty, buyer_maker, kHeaderBackfilled);
  return kOk;
}

/// One aggTrades row.
failure agg_row(od::object& row, trade_record& r) noexcept {
  static constexpr std::string_view kNames[] = {"a", "p", "q", "f", "l", "T", "m"};
  decimal px, qty;
  bool buyer_maker = false;
  unsigned seen = 0;
  const failure f = for_each_field(row, [&](od::raw_json_string key, od::value& v) -> failure {
    int bit = -1;
    switch (short_key(key)) {
      case 'a': bit = 0; break;
      case 'p': bit = 1; break;
      case 'q': bit = 2; break;
      case 'f': bit = 3; break;
      case 'l': bit = 4; break;
      case 'T': bit = 5; break;
      case 'm': bit = 6; break;
      default: return kOk;  // M, nq
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    switch (bit) {
      case 0: e = read_u64(v, r.header.seq); break;
      case 1: e = read_decimal(v, px); break;
      case 2: e = read_qty(v, qty); break;
      case 3: e = read_u64(v, r.first_trade_id); break;
      case 4: e = read_u64(v, r.last_trade_id); break;
      case 5: e = read_ms_time(v, r.header.venue_time_ns); break;
      default: e = read_bool(v, buyer_maker); break;
    }
    return e == parse_error::none ? kOk : failure{e, kNames[bit]};
  });
  if (f) return f;
  if (const failure m = missing(seen, 0x7FU, kNames)) return m;
  if (const failure c = check_trade(px, qty, kNames[1], kNames[2])) return c;
  return finish_agg_trade(r, px, qty, buyer_maker, kHeaderBackfilled);
}

/// {"code":…,"msg":…}: the venue refused the request.
failure venue_error_body(od::document& doc, std::string_view& venue_msg) noexcept {
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return {parse_error::unexpected_shape, "not a list of trades"};
  for (auto field : obj) {
    if (field.error()) break;
    if (key_is(field.value_unsafe().key(), "msg")) {
      std::string_view m;
      if (field.value_unsafe().value().get_string().get(m) == simdjson::SUCCESS) venue_msg = m;
    }
  }
  return {parse_error::venue_error, venue_msg};
}

}  // namespace

failure parse_history(od::document& doc, history_kind kind, std::uint64_t from, std::uint64_t to, stream_stamp& st,
                      record_writer& w, backfill_page& page, std::string_view& venue_msg) noexcept {
  page = {};
  od::array rows;
  const auto e = doc.get_array().get(rows);
  if (e == simdjson::INCORRECT_TYPE) return venue_error_body(doc, venue_msg);
  if (e) return {from_simdjson(e), "not JSON"};
  for (auto element : rows) {
    od::value v;
    if (const auto ee = element.get(v)) return {from_simdjson(ee), "malformed array"};
    od::object row;
    if (const failure f = as_object(v, row, "trade row: not an object")) return f;
    auto r = make_record<trade_record>();
    if (const failure f = kind == history_kind::trades ? trade_row(row, r) : agg_row(row, r)) return f;
    const std::uint64_t id = r.header.seq;
    if (page.rows > 0 && id <= page.last_id) return {parse_error::invalid_value, "trade ids not increasing"};
    if (page.rows == 0) page.first_id = id;
    page.last_id = id;
    ++page.rows;
    // A page that starts after `from` writes nothing: the venue no longer has `from`, and the
    // caller says so (a gap record) before it asks again from the page's first id, so that the
    // ring holds the gap before the trades that follow it.
    if (page.first_id > from || id < from || id > to) continue;
    st.apply(r.header);
    if (const failure f = w.write(r)) return f;
    ++page.written;
  }
  return kOk;
}

}  // namespace mdbus::feed::detail::binance
