// Binance spot public market data: combined streams (web-socket-streams.md) and the REST
// depth snapshot (rest-api.md "Order book"). Field meanings and sequence rules are in
// /work/shared/VENUES.md; the record mapping is in bus/records.hpp.
//
// Keepalive: the server sends WebSocket ping frames every 20 s and the transport answers
// them with a pong echoing the payload (libwebsockets does this by itself), so there is no
// application-level keepalive text.
#include "bus/venue_budget_core.hpp"
#include "bus/venues/binance.hpp"
#include "feeders/adapter_support.hpp"
#include "feeders/venue_adapter.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mdbus::feed {
namespace detail {
std::unique_ptr<venue_adapter> make_binance_adapter(const adapter_options& options);
}

namespace {

using namespace detail;

// ---------------------------------------------------------------------------------------
// Stream names: "<symbol lowercase>@<suffix>".

/// The channel a combined-stream suffix names (the venue descriptor's grammar); unknown for
/// streams we do not decode (kline_1m, ticker, …).
channel channel_of_suffix(std::string_view s) noexcept { return venues::binance().parse_channel(s).id; }

char ascii_upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// Records carry the venue's REST/event spelling ("BTCUSDT"); stream names are lowercase.
void set_upper_symbol(stream_stamp& st, std::string_view lower) noexcept {
  char buf[kSymbolCapacity + 1];
  // One byte more than fits, so set_symbol sees an over-long name and flags it truncated.
  const std::size_t n = std::min(lower.size(), sizeof buf);
  for (std::size_t i = 0; i < n; ++i) buf[i] = ascii_upper(lower[i]);
  st.set_symbol({buf, n});
}

/// Symbols go into URLs and stream names: only the venue's grammar (its descriptor:
/// upper-case letters and digits, as the config spells them).
void check_symbol(std::string_view sym) {
  if (std::string why = venues::binance().symbol_problem(sym); !why.empty()) throw std::invalid_argument("binance: " + why);
}

std::string stream_name(const subscription& sub) {
  check_symbol(sub.symbol);
  auto refuse = [&](const char* why) {
    return std::invalid_argument("binance: " + std::string(to_string(sub.ch)) + " " + sub.symbol + ": " + why +
                                 " (variant '" + sub.variant + "')");
  };
  // The suffix from (channel, variant); the descriptor's grammar must read it back the same.
  std::string suffix;
  switch (sub.ch) {
    case channel::binance_trade:
    case channel::binance_agg_trade:
    case channel::binance_book_ticker:
    case channel::binance_depth:
      suffix = sub.ch == channel::binance_depth ? "depth" : std::string(to_string(sub.ch));
      if (!sub.variant.empty()) suffix.append("@").append(sub.variant);
      break;
    case channel::binance_depth_partial: suffix = "depth" + sub.variant; break;
    default: throw refuse("not a Binance channel");
  }
  const parsed_channel p = venues::binance().parse_channel(suffix);
  if (p.id != sub.ch || p.variant != sub.variant)
    throw refuse(sub.ch == channel::binance_depth_partial ? "variant must be 5, 10 or 20, optionally @100ms or @1000ms"
                 : sub.ch == channel::binance_depth       ? "variant must be empty, 100ms or 1000ms"
                                                          : "takes no variant");
  std::string name;
  for (const char c : sub.symbol) name.push_back(ascii_lower(c));
  return name.append("@").append(suffix);
}

// ---------------------------------------------------------------------------------------
// Events. Each reads one event object in any field order, ignores unknown fields, and
// writes its record only once the whole object has been read and checked.

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

/// One side of a best bid/offer: a present side (quantity > 0) has a price > 0; an empty
/// one may read 0/0. A negative price is never one.
bool side_ok(decimal px, decimal qty) noexcept { return px.mantissa > 0 || (px.mantissa == 0 && qty.mantissa == 0); }

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
  r.header.flags = kHeaderHasSeq;
  r.set_px(px);
  r.set_qty(qty);
  r.trade_count = 1;
  // m: the buyer is the maker, so the seller took liquidity.
  r.aggressor = buyer_maker ? aggressor_side::sell : aggressor_side::buy;
  st.apply(r.header);
  return w.write(r);
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
  // web-socket-streams.md "Aggregate Trade Streams": f is the first trade id, l the last.
  if (r.first_trade_id > r.last_trade_id) return {parse_error::invalid_value, "aggTrade: f > l"};
  r.header.flags = kHeaderHasSeq | kHeaderHasFirstSeq;
  r.header.first_seq = r.first_trade_id;
  r.set_px(px);
  r.set_qty(qty);
  r.trade_count = r.last_trade_id - r.first_trade_id < UINT32_MAX
                      ? static_cast<std::uint32_t>(r.last_trade_id - r.first_trade_id + 1)
                      : 0;
  r.aggressor = buyer_maker ? aggressor_side::sell : aggressor_side::buy;
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

failure parse_depth(od::object& data, stream_stamp& st, record_writer& w, level_buffer& levels) noexcept {
  static constexpr std::string_view kNames[] = {"depthUpdate.E", "depthUpdate.U", "depthUpdate.u", "depthUpdate.b",
                                                "depthUpdate.a", "depthUpdate.s", "depthUpdate.e", "depthUpdate.pu"};
  auto r = make_book_record(record_type::book_delta);
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
  if (const failure m = missing(seen | (st.has_symbol ? 0x20U : 0U), 0x3FU, kNames)) return m;
  // web-socket-streams.md "Diff. Depth Stream": U is the first update id of the event, u the
  // final one, so U <= u (U == u for a single update).
  if (r.header.first_seq > r.header.seq) return {parse_error::invalid_value, "depthUpdate: U > u"};
  r.header.flags = kHeaderHasSeq | kHeaderHasFirstSeq | ((seen & 0x80U) != 0 ? kHeaderHasPrevSeq : 0);
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

// ---------------------------------------------------------------------------------------

class binance_adapter final : public venue_adapter {
 public:
  explicit binance_adapter(const adapter_options& options)
      : options_(options),
        parser_(options.max_message_bytes),
        levels_(max_levels_in(options.max_message_bytes)),
        stage_(options.max_message_bytes),
        levels_per_record_(book_levels_per_record(options.max_record_bytes)) {
    // Warm-up happens here: the parser's buffers for the largest message we accept.
    if (const auto e = parser_.allocate(options.max_message_bytes))
      throw std::runtime_error(std::string("binance adapter: cannot allocate the JSON parser: ") + simdjson::error_message(e));
  }

  [[nodiscard]] venue id() const noexcept override { return venue::binance; }

  [[nodiscard]] std::string ws_path(std::span<const subscription> subs) const override {
    // Streams in the URL: no SUBSCRIBE message, so nothing counts against the 5 msg/s limit.
    std::string path = "/stream";
    char sep = '?';
    for (const auto& sub : subs) {
      path.push_back(sep);
      if (sep == '?') path.append("streams=");
      sep = '/';
      path.append(stream_name(sub));
    }
    return path;
  }

  [[nodiscard]] std::vector<std::string> subscribe_messages(std::span<const subscription> subs) const override {
    for (const auto& sub : subs) (void)stream_name(sub);  // same validation as ws_path
    return {};
  }

  /// {"method":"UNSUBSCRIBE","params":["btcusdt@depth@100ms",…],"id":1}. One message: a
  /// connection holds at most 1024 streams, and every control message counts against the
  /// 5 messages/s limit. The reply {"result":null,"id":1} parses as control_event::subscribed
  /// (Binance acknowledges both methods alike). Not used for resyncs (Binance resyncs from REST).
  [[nodiscard]] std::vector<std::string> unsubscribe_messages(std::span<const subscription> subs) const override {
    if (subs.empty()) return {};
    return {control_message("UNSUBSCRIBE", subs, 1)};
  }

  /// UNSUBSCRIBE then SUBSCRIBE (web-socket-streams.md "Live Subscribing/Unsubscribing to
  /// streams", 2026-12): works on a combined connection whose streams came in the URL too.
  /// Two of the 5 incoming messages per second a connection may send.
  [[nodiscard]] std::vector<std::string> resubscribe_messages(std::span<const subscription> subs) const override {
    if (subs.empty()) return {};
    return {control_message("UNSUBSCRIBE", subs, 1), control_message("SUBSCRIBE", subs, 2)};
  }

  static std::string control_message(std::string_view method, std::span<const subscription> subs, int id) {
    std::string msg = R"({"method":")";
    msg.append(method).append(R"(","params":[)");
    char sep = ' ';
    for (const auto& sub : subs) {
      if (sep == ',') msg.push_back(',');
      sep = ',';
      msg.append("\"").append(stream_name(sub)).append("\"");
    }
    msg.append(R"(],"id":)").append(std::to_string(id)).append("}");
    return msg;
  }


  [[nodiscard]] std::string_view keepalive_text() const noexcept override { return {}; }

  void set_subscriptions(std::span<const subscription> subs) override {
    stream_table table;
    for (const auto& sub : subs) {
      // The combined stream echoes the name we subscribed to (web-socket-streams.md: "Combined
      // stream events are wrapped as follows: {"stream":"<streamName>","data":<rawPayload>}").
      table.add(0, stream_name(sub), sub.ch);
      std::string upper;
      for (const char c : sub.symbol) upper.push_back(ascii_upper(c));
      table.add(static_cast<std::uint8_t>(sub.ch), upper, sub.ch);  // a raw stream's event type and s
    }
    subscribed_ = std::move(table);
    filter_ = true;
  }

  [[nodiscard]] parse_result parse(simdjson::padded_string_view message, std::int64_t receive_ns,
                                   record_sink& sink) noexcept override;

  /// rest-api.md "Exchange information" (2026-12): GET /api/v3/exchangeInfo?symbols=["A","B"],
  /// weight 20; each symbol's "status" must be "TRADING". An unknown symbol in the list fails
  /// the whole query with 400 / -1121 "Invalid symbol.": then each symbol is asked alone.
  [[nodiscard]] std::string instruments_path(std::span<const std::string> symbols) const override {
    std::string path = "/api/v3/exchangeInfo?symbol";
    if (symbols.size() == 1) {
      check_symbol(symbols[0]);
      return path.append("=").append(symbols[0]);
    }
    path.append("s=%5B");  // the JSON array, URL-encoded: [ " , ]
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      check_symbol(symbols[i]);
      if (i > 0) path.append("%2C");
      path.append("%22").append(symbols[i]).append("%22");
    }
    return path.append("%5D");
  }
  [[nodiscard]] std::uint32_t instruments_cost() const noexcept override { return kBinanceExchangeInfoWeight; }
  [[nodiscard]] instrument_check check_instruments(int status, std::string_view body,
                                                   std::span<const std::string> symbols) const override;

  [[nodiscard]] std::string snapshot_path(const subscription& sub, int depth) const override {
    if (sub.ch != channel::binance_depth) throw std::invalid_argument("binance: REST snapshots are for the depth channel");
    check_symbol(sub.symbol);
    if (depth < 1 || depth > 5000) throw std::invalid_argument("binance: snapshot depth must be 1..5000");
    std::string path = "/api/v3/depth?symbol=";
    for (const char c : sub.symbol) path.push_back(ascii_upper(c));
    path.append("&limit=").append(std::to_string(depth));
    return path;
  }

  /// The diff depth stream joins a REST snapshot by the documented U/u procedure (VENUES.md,
  /// "Local order book"; the merger applies it). 1000 levels: request weight 50 of the
  /// 6000/min, against 250 for 5000. Partial depth is a snapshot in every message.
  [[nodiscard]] resync_plan resync_plan_for(channel c) const noexcept override {
    // rest-api.md "Order book" (2026-12): weight 50 for limit 501-1000.
    if (c == channel::binance_depth) return {resync_method::rest_snapshot, 1000, binance_depth_weight(1000)};
    return {};
  }

  [[nodiscard]] parse_result parse_snapshot(const subscription& sub, simdjson::padded_string_view body,
                                            std::int64_t receive_ns, record_sink& sink) noexcept override;

 private:
  failure on_event(channel ch, od::value& value, stream_stamp& st, record_writer& w) noexcept {
    od::object data;
    if (const failure f = as_object(value, data, "data: not an object")) return f;
    return on_event(ch, data, st, w);
  }

  failure on_event(channel ch, od::object& data, stream_stamp& st, record_writer& w) noexcept {
    st.channel_id = ch;
    switch (ch) {
      case channel::binance_trade: return parse_trade(data, st, w);
      case channel::binance_agg_trade: return parse_agg_trade(data, st, w);
      case channel::binance_book_ticker: return parse_book_ticker(data, st, w);
      case channel::binance_depth: return parse_depth(data, st, w, levels_);
      case channel::binance_depth_partial: return parse_depth_snapshot(data, st, w, levels_, 0, nullptr);
      default: break;
    }
    return {parse_error::unknown_stream, "stream not decoded"};
  }

  /// The event of a combined stream: its name says the channel and the symbol.
  failure on_stream(std::string_view stream, od::value& data, stream_stamp& st, record_writer& w,
                    control_event& ev) noexcept {
    if (stream == "!serverShutdown") {  // since 2026-05: the server is going away, rotate now
      ev = control_event::going_away;
      return kOk;
    }
    const std::size_t at = stream.find('@');
    channel ch = channel::unknown;
    if (filter_) {
      ch = subscribed_.find(0, stream);
    } else if (at != std::string_view::npos) {
      ch = channel_of_suffix(stream.substr(at + 1));
    }
    if (ch == channel::unknown) return {parse_error::unknown_stream, stream};
    set_upper_symbol(st, stream.substr(0, at));
    return on_event(ch, data, st, w);
  }

  parse_result parse_raw(od::document& doc, std::string_view first_key, std::string_view event, stream_stamp& st,
                         record_writer& w) noexcept;

  /// A good message's records go to the sink; a failure leaves nothing there.
  static parse_result finish(record_writer& w, failure f, control_event ev = control_event::none) noexcept {
    if (!f) f = w.commit();
    return result_of(w, f, ev);
  }

  adapter_options options_;
  od::parser parser_;
  level_buffer levels_;
  record_stage stage_;
  std::size_t levels_per_record_;
  /// set_subscriptions(): tag 0 + stream name ("btcusdt@depth@100ms") for combined streams,
  /// tag channel + upper-case symbol for raw ones. Empty and unused until it is called.
  stream_table subscribed_;
  bool filter_ = false;
};

parse_result binance_adapter::parse(simdjson::padded_string_view message, std::int64_t receive_ns,
                                    record_sink& sink) noexcept {
  record_writer w(sink, stage_, levels_per_record_);
  levels_.clear();
  if (message.length() > options_.max_message_bytes) return result_of(w, {parse_error::message_too_large, "message too large"});
  od::document doc;
  if (const auto e = parser_.iterate(message).get(doc)) return result_of(w, {from_simdjson(e, parse_error::not_json), "not JSON"});
  od::object obj;
  if (const failure f = root_object(doc, obj)) return result_of(w, f);

  stream_stamp st;
  st.venue_id = venue::binance;
  st.slot = options_.slot;
  st.receive_ns = receive_ns;

  // Combined stream {"stream":"btcusdt@trade","data":{…}} (what ws_path asks for), control
  // replies {"result":null,"id":1} / {"code":2,"msg":"…","id":1}, or a raw event. Records
  // are only staged here: they reach the sink in finish(), once the whole document is read.
  std::string_view stream;
  std::string_view venue_msg;
  bool have_stream = false, data_deferred = false, data_done = false, has_result = false, result_null = false,
       has_code = false, first = true;
  control_event ev = control_event::none;
  for (auto field : obj) {
    if (const auto e = field.error()) return result_of(w, {from_simdjson(e), "not JSON"});
    od::field& fl = field.value_unsafe();
    const od::raw_json_string key = fl.key();
    od::value& v = fl.value();
    if (first) {
      first = false;
      // A raw stream (/ws/<stream>) sends the event itself: e first, or bookTicker's u,
      // or partial depth's lastUpdateId.
      std::string_view event;
      if (key_is(key, "e")) {
        if (read_string(v, event) != parse_error::none) return result_of(w, {parse_error::wrong_type, "e"});
        return parse_raw(doc, "e", event, st, w);
      }
      if (key_is(key, "u")) return parse_raw(doc, "u", {}, st, w);
      if (key_is(key, "lastUpdateId")) return parse_raw(doc, "lastUpdateId", {}, st, w);
    }
    if (key_is(key, "stream")) {
      if (have_stream) return result_of(w, duplicate("stream"));
      if (read_string(v, stream) != parse_error::none) return result_of(w, {parse_error::wrong_type, "stream"});
      have_stream = true;
    } else if (key_is(key, "data")) {
      if (data_done || data_deferred) return result_of(w, duplicate("data"));
      if (!have_stream) {
        data_deferred = true;  // read once the stream name is known, after this loop
        continue;
      }
      data_done = true;
      if (const failure f = on_stream(stream, v, st, w, ev)) return result_of(w, f);
    } else if (key_is(key, "result")) {
      has_result = true;
      result_null = trim_token(v.raw_json_token()) == "null";
    } else if (key_is(key, "code")) {
      has_code = true;
    } else if (key_is(key, "msg")) {
      (void)read_string(v, venue_msg);
    }
  }
  // A truncated message ends the loop above early without an error: only here is it seen.
  if (!at_document_end(doc)) return result_of(w, {parse_error::not_json, "content after the JSON object"}, ev);
  if (data_deferred) {
    if (!have_stream) return result_of(w, {parse_error::missing_field, "stream"});
    // Rare field order ("data" before "stream"): read the object again now that the stream is known.
    doc.rewind();
    od::value data;
    if (const auto e = doc.find_field_unordered("data").get(data)) return result_of(w, {from_simdjson(e), "data"});
    const failure f = on_stream(stream, data, st, w, ev);
    return finish(w, f, ev);
  }
  if (data_done) return finish(w, kOk, ev);
  if (have_stream) return result_of(w, {parse_error::missing_field, "data"});
  if (has_code) {
    return result_of(w, {parse_error::venue_error, venue_msg.empty() ? std::string_view("error reply") : venue_msg},
                     control_event::venue_error);
  }
  // {"result":null,"id":n} acknowledges SUBSCRIBE / UNSUBSCRIBE / SET_PROPERTY; a non-null
  // result answers a query (LIST_SUBSCRIPTIONS, GET_PROPERTY) and needs no action.
  if (has_result) return result_of(w, kOk, result_null ? control_event::subscribed : control_event::none);
  return result_of(w, {parse_error::unexpected_shape, "not a Binance message"});
}

parse_result binance_adapter::parse_raw(od::document& doc, std::string_view first_key, std::string_view event,
                                        stream_stamp& st, record_writer& w) noexcept {
  channel ch = channel::unknown;
  if (first_key == "u" || event == "bookTicker") {  // spot sends no e; USD-M futures does
    ch = channel::binance_book_ticker;
  } else if (first_key == "lastUpdateId") {
    // Partial depth names no symbol: only the combined stream's name tells streams apart.
    return result_of(w, {parse_error::unknown_stream, "partial depth outside a combined stream"});
  } else if (event == "serverShutdown") {
    return result_of(w, kOk, control_event::going_away);
  } else if (event == "trade") {
    ch = channel::binance_trade;
  } else if (event == "aggTrade") {
    ch = channel::binance_agg_trade;
  } else if (event == "depthUpdate") {
    ch = channel::binance_depth;
  } else {
    return result_of(w, {parse_error::unknown_stream, event});
  }
  doc.rewind();
  od::object root;
  if (const auto e = doc.get_object().get(root)) return result_of(w, {from_simdjson(e), "not JSON"});
  if (const failure f = on_event(ch, root, st, w)) return result_of(w, f);
  if (!at_document_end(doc)) return result_of(w, {parse_error::not_json, "content after the JSON object"});
  // A raw stream is named by its event type and s (any depth speed: the event is the same).
  if (filter_ && subscribed_.find(static_cast<std::uint8_t>(ch), st.symbol.symbol_view()) != ch)
    return result_of(w, {parse_error::unknown_stream, "symbol not subscribed on this channel"});
  return finish(w, kOk);
}

parse_result binance_adapter::parse_snapshot(const subscription& sub, simdjson::padded_string_view body,
                                             std::int64_t receive_ns, record_sink& sink) noexcept {
  record_writer w(sink, stage_, levels_per_record_);
  levels_.clear();
  if (sub.ch != channel::binance_depth)
    return result_of(w, {parse_error::unknown_stream, "REST snapshots are for the depth channel"});
  if (body.length() > options_.max_message_bytes) return result_of(w, {parse_error::message_too_large, "body too large"});
  od::document doc;
  if (const auto e = parser_.iterate(body).get(doc)) return result_of(w, {from_simdjson(e, parse_error::not_json), "not JSON"});
  od::object root;
  if (const failure f = root_object(doc, root)) return result_of(w, f);
  stream_stamp st;
  st.venue_id = venue::binance;
  st.channel_id = sub.ch;
  st.slot = options_.slot;
  st.receive_ns = receive_ns;
  set_upper_symbol(st, sub.symbol);
  std::string_view venue_msg = "error reply";
  const failure f = parse_depth_snapshot(root, st, w, levels_, kHeaderFromRest, &venue_msg);
  if (f.error == parse_error::venue_error) return result_of(w, f, control_event::venue_error);
  if (f) return result_of(w, f);
  if (!at_document_end(doc)) return result_of(w, {parse_error::not_json, "content after the JSON object"});
  return finish(w, kOk);
}

instrument_check binance_adapter::check_instruments(int status, std::string_view body,
                                                    std::span<const std::string> symbols) const {
  instrument_check out;
  try {
    simdjson::dom::parser p;
    const simdjson::padded_string padded(body);
    simdjson::dom::element doc;
    if (p.parse(padded).get(doc) != simdjson::SUCCESS) {
      out.problems.push_back("exchangeInfo answer is not JSON (HTTP " + std::to_string(status) + ")");
      return out;
    }
    if (status != 200) {
      std::int64_t code = 0;
      if (status == 400 && doc["code"].get(code) == simdjson::SUCCESS && code == -1121) {
        if (symbols.size() == 1) {
          out.result = instrument_check::outcome::refused;
          out.problems.push_back("\"" + symbols[0] + "\" is not listed by Binance (exchangeInfo: -1121 Invalid symbol)");
        } else {
          out.result = instrument_check::outcome::ask_each;
        }
        return out;
      }
      out.problems.push_back("exchangeInfo answered HTTP " + std::to_string(status));
      return out;
    }
    simdjson::dom::array listed;
    if (doc["symbols"].get(listed) != simdjson::SUCCESS) {
      out.problems.push_back("exchangeInfo answer has no symbols array");
      return out;
    }
    check_listed(listed, symbols, {"Binance", "exchangeInfo", "symbol", "status", "TRADING"}, out.problems);
  } catch (const std::exception& e) {  // allocation failure
    out.problems.assign(1, std::string("exchangeInfo: ") + e.what());
    return out;
  }
  out.result = out.problems.empty() ? instrument_check::outcome::ok : instrument_check::outcome::refused;
  return out;
}

}  // namespace

namespace detail {
std::unique_ptr<venue_adapter> make_binance_adapter(const adapter_options& options) {
  return std::make_unique<binance_adapter>(options);
}
}  // namespace detail

}  // namespace mdbus::feed
