// OKX v5 "Public Data" WebSocket channels, as of 2026-12: "Mark price channel" (mark-price:
// instType, instId, markPx, ts; pushed every 200 ms when the mark price changes, every 10 s
// otherwise) and "Funding rate channel" (funding-rate, SWAP only: fundingRate for the period
// settled at fundingTime, nextFundingTime, ts, …; pushed every 30 to 90 s). Each element
// becomes one mark_funding record (bus/include/mdbus/records.hpp) carrying only the values it had.
#include "feeders/okx_events.hpp"

namespace mdbus::feed::detail::okx {

failure parse_mark_price(od::object& obj, const stream_stamp& st, record_writer& w) noexcept {
  static constexpr std::string_view kNames[] = {"mark-price.markPx", "mark-price.ts", "mark-price.instId"};
  auto r = make_record<mark_funding_record>();
  decimal mark;
  unsigned seen = 0;
  const failure f = for_each_field(obj, [&](od::raw_json_string key, od::value& v) -> failure {
    const int bit = key_is(key, "markPx") ? 0 : key_is(key, "ts") ? 1 : key_is(key, "instId") ? 2 : -1;
    if (bit < 0) return kOk;
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    switch (bit) {
      case 0: e = read_decimal(v, mark); break;
      case 1: e = read_quoted_ms_time(v, r.header.venue_time_ns); break;
      default: return match_inst_id(v, st, kNames[2]);
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (const failure m = missing(seen, 0x3U, kNames)) return m;
  if (mark.mantissa <= 0) return {parse_error::invalid_value, "mark-price.markPx <= 0"};
  r.set_mark_px(mark);
  r.order_by_event_time();  // no id in the element (bus/include/mdbus/records.hpp)
  st.apply(r.header);
  return w.write(r);
}

failure parse_funding_rate(od::object& obj, const stream_stamp& st, record_writer& w) noexcept {
  static constexpr std::string_view kNames[] = {"funding-rate.fundingRate", "funding-rate.fundingTime", "funding-rate.ts",
                                                "funding-rate.instId"};
  auto r = make_record<mark_funding_record>();
  decimal rate;
  std::int64_t funding_ns = 0;
  unsigned seen = 0;
  const failure f = for_each_field(obj, [&](od::raw_json_string key, od::value& v) -> failure {
    const int bit = key_is(key, "fundingRate") ? 0
                    : key_is(key, "fundingTime") ? 1
                    : key_is(key, "ts")          ? 2
                    : key_is(key, "instId")      ? 3
                                                 : -1;
    if (bit < 0) return kOk;
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    switch (bit) {
      case 0: e = read_decimal(v, rate); break;  // may be negative: shorts pay longs
      case 1: e = read_quoted_ms_time(v, funding_ns); break;
      case 2: e = read_quoted_ms_time(v, r.header.venue_time_ns); break;
      default: return match_inst_id(v, st, kNames[3]);
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (const failure m = missing(seen, 0x7U, kNames)) return m;
  if (funding_ns <= 0) return {parse_error::invalid_value, "funding-rate.fundingTime <= 0"};
  r.set_funding_rate(rate);
  r.set_funding_time_ns(funding_ns);
  r.order_by_event_time();  // no id in the element (bus/include/mdbus/records.hpp)
  st.apply(r.header);
  return w.write(r);
}

}  // namespace mdbus::feed::detail::okx
