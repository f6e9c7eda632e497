// The Binance event payloads both Binance venues send (spot web-socket-streams.md; USD-M
// "WebSocket Market Streams", 2026-12). Each parser reads one event object in any field order,
// ignores unknown fields, and writes its record only once the whole object has been read and
// checked. The record mapping is in bus/include/mdbus/records.hpp.
#include "feeders/binance_events.hpp"

namespace mdbus::feed::detail::binance {
namespace {

/// The symbol from the event's `s`: it names the stream on a raw connection; in a combined
/// stream it must agree with the stream name (web-socket-streams.md: stream names are
/// `<symbol>@…` with the symbol in lower case, `s` is the symbol), or the event belongs to
/// another stream than the wrapper says.
failure take_symbol(od::value& v, stream_stamp& st, std::string_view what) noexcept {
  std::string_view s;
  if (const parse_error e = read_string(v, s); e != parse_error::none) return {e, what};
  if (!st.has_symbol) {
    st.set_symbol(s);
    return kOk;
  }
  if (!st.same_symbol(s)) return {parse_error::unknown_stream, "s differs from the stream name"};
  return kOk;
}

/// `e` inside an event must be the stream's own event type (web-socket-streams.md payloads:
/// "e":"trade", "aggTrade", "depthUpdate"; futures "bookTicker").
failure check_event_type(od::value& v, std::string_view expected, std::string_view what) noexcept {
  std::string_view e;
  if (const parse_error pe = read_string(v, e); pe != parse_error::none) return {pe, what};
  if (e != expected) return {parse_error::unexpected_shape, "e differs from the stream's event type"};
  return kOk;
}

/// One side of a best bid/offer: a present side (quantity > 0) has a price > 0; an empty
/// one may read 0/0. A negative price is never one.
bool side_ok(decimal px, decimal qty) noexcept { return px.mantissa > 0 || (px.mantissa == 0 && qty.mantissa == 0); }

}  // namespace

/// A quantity: a decimal string, never negative.
parse_error read_qty(od::value& v, decimal& out) noexcept {
  const parse_error e = read_decimal(v, out);
  if (e == parse_error::none && out.mantissa < 0) return parse_error::bad_number;
  return e;
}

/// A trade happened at a price and for a quantity: both > 0 (a negative quantity is
/// already bad_number).
failure check_trade(decimal px, decimal qty, std::string_view px_name, std::string_view qty_name) noexcept {
  if (px.mantissa <= 0) return {parse_error::invalid_value, px_name};
  if (qty.mantissa == 0) return {parse_error::invalid_value, qty_name};
  return kOk;
}

failure parse_trade(od::object& data, stream_stamp& st, record_writer& w) noexcept {
  static constexpr std::string_view kNames[] = {"trade.E", "trade.t", "trade.p", "trade.q", "trade.m", "trade.s", "trade.e"};
  auto r = make_record<trade_record>();
  decimal px;
  decimal qty;
  bool buyer_maker = false;
  unsigned seen = 0;
  const failure f = for_each_field(data, [&](od::raw_json_string key, od::value& v) -> failure {
    parse_error e = parse_error::none;
    int bit = -1;
    switch (short_key(key)) {
      case 'E': bit = 0; break;
      case 't': bit = 1; break;
      case 'p': bit = 2; break;
      case 'q': bit = 3; break;
      case 'm': bit = 4; break;
      case 's': bit = 5; break;
      case 'e': bit = 6; break;
      default: return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    switch (bit) {
      case 0: e = read_ms_time(v, r.header.venue_time_ns); break;
      case 1: e = read_u64(v, r.header.seq); break;
      case 2: e = read_decimal(v, px); break;
      case 3: e = read_qty(v, qty); break;
      case 4: e = read_bool(v, buyer_maker); break;
      case 5: return take_symbol(v, st, kNames[5]);
      default: return check_event_type(v, "trade", kNames[6]);
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (const failure m = missing(seen | (st.has_symbol ? 0x20U : 0U), 0x3FU, kNames)) return m;
  if (const failure c = check_trade(px, qty, kNames[2], kNames[3])) return c;
  finish_trade(r, px, qty, buyer_maker, 0);
  st.apply(r.header);
  return w.write(r);
}

void finish_trade(trade_record& r, decimal px, decimal qty, bool buyer_maker, std::uint8_t extra_flags) noexcept {
  r.header.flags = static_cast<std::uint8_t>(kHeaderHasSeq | extra_flags);
  r.set_px(px);
  r.set_qty(qty);
  r.trade_count = 1;
  // m: the buyer is the maker, so the seller took liquidity.
  r.aggressor = buyer_maker ? aggressor_side::sell : aggressor_side::buy;
}

failure finish_agg_trade(trade_record& r, decimal px, decimal qty, bool buyer_maker, std::uint8_t extra_flags) noexcept {
  if (r.first_trade_id > r.last_trade_id) return {parse_error::invalid_value, "aggTrade: f > l"};
  r.header.flags = static_cast<std::uint8_t>(kHeaderHasSeq | kHeaderHasFirstSeq | extra_flags);
  r.header.first_seq = r.first_trade_id;
  r.set_px(px);
  r.set_qty(qty);
  r.trade_count = r.last_trade_id - r.first_trade_id < UINT32_MAX
                      ? static_cast<std::uint32_t>(r.last_trade_id - r.first_trade_id + 1)
                      : 0;
  r.aggressor = buyer_maker ? aggressor_side::sell : aggressor_side::buy;
  return kOk;
}

failure parse_agg_trade(od::object& data, stream_stamp& st, record_writer& w) noexcept {
  static constexpr std::string_view kNames[] = {"aggTrade.E", "aggTrade.a", "aggTrade.p", "aggTrade.q", "aggTrade.f",
                                                "aggTrade.l", "aggTrade.m", "aggTrade.s", "aggTrade.e"};
  auto r = make_record<trade_record>();
  decimal px;
  decimal qty;
  bool buyer_maker = false;
  unsigned seen = 0;
  const failure f = for_each_field(data, [&](od::raw_json_string key, od::value& v) -> failure {
    parse_error e = parse_error::none;
    int bit = -1;
    switch (short_key(key)) {
      case 'E': bit = 0; break;
      case 'a': bit = 1; break;
      case 'p': bit = 2; break;
      case 'q': bit = 3; break;
      case 'f': bit = 4; break;
      case 'l': bit = 5; break;
      case 'm': bit = 6; break;
      case 's': bit = 7; break;
      case 'e': bit = 8; break;
      default: return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    switch (bit) {
      case 0: e = read_ms_time(v, r.header.venue_time_ns); break;
      case 1: e = read_u64(v, r.header.seq); break;
      case 2: e = read_decimal(v, px); break;
      case 3: e = read_qty(v, qty); break;
      case 4: e = read_u64(v, r.first_trade_id); break;
      case 5: e = read_u64(v, r.last_trade_id); break;
      case 6: e = read_bool(v, buyer_maker); break;
      case 7: return take_symbol(v, st, kNames[7]);
      default: return check_event_type(v, "aggTrade", kNames[8]);
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (const failure m = missing(seen | (st.has_symbol ? 0x80U : 0U), 0xFFU, kNames)) return m;
  if (const failure c = check_trade(px, qty, kNames[2], kNames[3])) return c;
  if (const failure fa = finish_agg_trade(r, px, qty, buyer_maker, 0)) return fa;
  st.apply(r.header);
  return w.write(r);
}

failure parse_book_ticker(od::object& data, stream_stamp& st, record_writer& w) noexcept {
  static constexpr std::string_view kNames[] = {"bookTicker.u", "bookTicker.b", "bookTicker.B", "bookTicker.a",
                                                "bookTicker.A", "bookTicker.s", "bookTicker.E", "bookTicker.e"};
  auto r = make_record<bbo_record>();
  decimal bid_px, bid_qty, ask_px, ask_qty;
  unsigned seen = 0;
  const failure f = for_each_field(data, [&](od::raw_json_string key, od::value& v) -> failure {
    parse_error e = parse_error::none;
    int bit = -1;
    switch (short_key(key)) {
      case 'u': bit = 0; break;
      case 'b': bit = 1; break;
      case 'B': bit = 2; break;
      case 'a': bit = 3; break;
      case 'A': bit = 4; break;
      case 's': bit = 5; break;
      case 'E': bit = 6; break;  // spot sends no event time; USD-M futures does
      case 'e': bit = 7; break;  // futures only
      default: return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    switch (bit) {
      case 0: e = read_u64(v, r.header.seq); break;
      case 1: e = read_decimal(v, bid_px); break;
      case 2: e = read_qty(v, bid_qty); break;
      case 3: e = read_decimal(v, ask_px); break;
      case 4: e = read_qty(v, ask_qty); break;
      case 5: return take_symbol(v, st, kNames[5]);
      case 6: e = read_ms_time(v, r.header.venue_time_ns); break;
      default: return check_event_type(v, "bookTicker", kNames[7]);
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (const failure m = missing(seen | (st.has_symbol ? 0x20U : 0U), 0x3FU, kNames)) return m;
  if (!side_ok(bid_px, bid_qty)) return {parse_error::invalid_value, "bookTicker.b <= 0"};
  if (!side_ok(ask_px, ask_qty)) return {parse_error::invalid_value, "bookTicker.a <= 0"};
  r.header.flags = kHeaderHasSeq;
  r.bid = make_level(book_side::bid, bid_px, bid_qty);
  r.ask = make_level(book_side::ask, ask_px, ask_qty);
  st.apply(r.header);
  return w.write(r);
}

failure parse_depth(od::object& data, stream_stamp& st, record_writer& w, level_buffer& levels, depth_shape shape) noexcept {
  static constexpr std::string_view kNames[] = {"depthUpdate.E", "depthUpdate.U", "depthUpdate.u", "depthUpdate.b",
                                                "depthUpdate.a", "depthUpdate.s", "depthUpdate.e", "depthUpdate.pu"};
  auto r = make_book_record(shape == depth_shape::top_levels ? record_type::book_snapshot : record_type::book_delta);
  const std::size_t begin = levels.size();
  unsigned seen = 0;
  const failure f = for_each_field(data, [&](od::raw_json_string key, od::value& v) -> failure {
    parse_error e = parse_error::none;
    int bit = -1;
    switch (short_key(key)) {
      case 'E': bit = 0; break;
      case 'U': bit = 1; break;
      case 'u': bit = 2; break;
      case 'b': bit = 3; break;
      case 'a': bit = 4; break;
      case 's': bit = 5; break;
      case 'e': bit = 6; break;
      case '\0':
        if (!key_is(key, "pu")) return kOk;  // USD-M futures: the previous event's u, the chain to check
        bit = 7;
        break;
      default: return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    switch (bit) {
      case 0: e = read_ms_time(v, r.header.venue_time_ns); break;
      case 1: e = read_u64(v, r.header.first_seq); break;
      case 2: e = read_u64(v, r.header.seq); break;
      case 3: return read_levels(v, book_side::bid, levels);
      case 4: return read_levels(v, book_side::ask, levels);
      case 5: return take_symbol(v, st, kNames[5]);
      case 6: return check_event_type(v, "depthUpdate", kNames[6]);
      default: e = read_i64(v, r.header.prev_seq); break;
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  // USD-M names the previous event's u in every depth event (its chain): required there.
  const unsigned required = shape == depth_shape::spot_diff ? 0x3FU : 0xBFU;
  if (const failure m = missing(seen | (st.has_symbol ? 0x20U : 0U), required, kNames)) return m;
  // web-socket-streams.md "Diff. Depth Stream": U is the first update id of the event, u the
  // final one, so U <= u (U == u for a single update).
  if (r.header.first_seq > r.header.seq) return {parse_error::invalid_value, "depthUpdate: U > u"};
  if ((seen & 0x80U) != 0 && r.header.prev_seq < 0) return {parse_error::invalid_value, "depthUpdate: pu < 0"};
  if (shape == depth_shape::top_levels) {
    // USD-M partial depth: the top levels as of u, a snapshot in every message (its ids only increase).
    r.header.flags = kHeaderHasSeq;
    r.header.first_seq = 0;
    r.header.prev_seq = -1;
  } else {
    r.header.flags = kHeaderHasSeq | kHeaderHasFirstSeq | ((seen & 0x80U) != 0 ? kHeaderHasPrevSeq : 0);
  }
  st.apply(r.header);
  return w.write_book(r, levels.levels().subspan(begin));
}

/// Partial depth and the REST snapshot share a shape: lastUpdateId, bids, asks.
failure parse_depth_snapshot(od::object& data, stream_stamp& st, record_writer& w, level_buffer& levels,
                             std::uint8_t extra_flags, std::string_view* venue_msg) noexcept {
  static constexpr std::string_view kNames[] = {"depth.lastUpdateId", "depth.bids", "depth.asks", "depth.E"};
  auto r = make_book_record(record_type::book_snapshot);
  const std::size_t begin = levels.size();
  unsigned seen = 0;
  bool venue_error = false;
  const failure f = for_each_field(data, [&](od::raw_json_string key, od::value& v) -> failure {
    int bit = -1;
    if (key_is(key, "lastUpdateId")) {
      bit = 0;
    } else if (key_is(key, "bids")) {
      bit = 1;
    } else if (key_is(key, "asks")) {
      bit = 2;
    } else if (key_is(key, "E")) {  // futures only
      bit = 3;
    } else if (venue_msg != nullptr && key_is(key, "code")) {  // REST error {"code":-1121,"msg":"Invalid symbol."}
      venue_error = true;
      return kOk;
    } else if (venue_msg != nullptr && key_is(key, "msg")) {
      (void)read_string(v, *venue_msg);
      return kOk;
    } else {
      return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    switch (bit) {
      case 0: e = read_u64(v, r.header.seq); break;
      case 1: return read_levels(v, book_side::bid, levels);
      case 2: return read_levels(v, book_side::ask, levels);
      default: e = read_ms_time(v, r.header.venue_time_ns); break;
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (venue_error) return {parse_error::venue_error, *venue_msg};
  if (const failure m = missing(seen, 0x7U, kNames)) return m;
  r.header.flags = static_cast<std::uint8_t>(kHeaderHasSeq | extra_flags);
  st.apply(r.header);
  return w.write_book(r, levels.levels().subspan(begin));
}

// USD-M "Mark Price Stream" (2026-12): {"e":"markPriceUpdate","E":…,"s":…,"p":mark,"i":index,
// "P":estimated settle price,"r":funding rate,"T":next funding time}. A delivery contract sends
// "r":"" and "T":0: no funding, so those fields stay absent from the record.
failure parse_mark_price(od::object& data, stream_stamp& st, record_writer& w) noexcept {
  static constexpr std::string_view kNames[] = {"markPrice.E", "markPrice.p", "markPrice.s", "markPrice.e",
                                                "markPrice.i", "markPrice.P", "markPrice.r", "markPrice.T"};
  auto r = make_record<mark_funding_record>();
  decimal mark, index, settle, rate;
  std::uint64_t funding_ms = 0;
  bool has_rate = false;
  unsigned seen = 0;
  const failure f = for_each_field(data, [&](od::raw_json_string key, od::value& v) -> failure {
    parse_error e = parse_error::none;
    int bit = -1;
    switch (short_key(key)) {
      case 'E': bit = 0; break;
      case 'p': bit = 1; break;
      case 's': bit = 2; break;
      case 'e': bit = 3; break;
      case 'i': bit = 4; break;
      case 'P': bit = 5; break;
      case 'r': bit = 6; break;
      case 'T': bit = 7; break;
      default: return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    switch (bit) {
      case 0: e = read_ms_time(v, r.header.venue_time_ns); break;
      case 1: e = read_decimal(v, mark); break;
      case 2: return take_symbol(v, st, kNames[2]);
      case 3: return check_event_type(v, "markPriceUpdate", kNames[3]);
      case 4: e = read_decimal(v, index); break;
      case 5: e = read_decimal(v, settle); break;
      case 6: {
        std::string_view text;
        e = read_string(v, text);
        if (e == parse_error::none && !text.empty()) {
          has_rate = true;
          if (!to_decimal_padded(text, rate)) e = parse_error::bad_number;
        }
        break;
      }
      default: e = read_u64(v, funding_ms); break;
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  // e, E, s (or the stream name) and p are what makes it a mark price.
  if (const failure m = missing(seen | (st.has_symbol ? 0x4U : 0U), 0xFU, kNames)) return m;
  if (mark.mantissa <= 0) return {parse_error::invalid_value, kNames[1]};
  if ((seen & 0x10U) != 0 && index.mantissa <= 0) return {parse_error::invalid_value, kNames[4]};
  if ((seen & 0x20U) != 0 && settle.mantissa < 0) return {parse_error::invalid_value, kNames[5]};
  std::int64_t funding_ns = 0;
  if (funding_ms != 0 && !ms_to_ns(funding_ms, funding_ns)) return {parse_error::bad_number, kNames[7]};
  r.set_mark_px(mark);
  if ((seen & 0x10U) != 0) r.set_index_px(index);
  if ((seen & 0x20U) != 0) r.set_settle_px(settle);
  if (has_rate) r.set_funding_rate(rate);
  if (funding_ms != 0) r.set_funding_time_ns(funding_ns);
  r.order_by_event_time();  // no id in the event (bus/include/mdbus/records.hpp)
  st.apply(r.header);
  return w.write(r);
}

}  // namespace mdbus::feed::detail::binance
