// The Binance protocol both Binance venues speak (binance_family.hpp): combined streams on a
// URL path (spot web-socket-streams.md; USD-M "WebSocket Market Streams", routed paths since
// 2026-04-23), control messages, the REST depth snapshot. Then Binance spot's own data: its
// channels, REST paths and instrument list (rest-api.md). Field meanings and sequence rules
// are in feeders/CONFORMANCE.md (doc section and date per rule); the record mapping is in
// bus/include/mdbus/records.hpp.
//
// Keepalive: the server sends WebSocket ping frames (spot every 20 s, USD-M every 3 min) and
// the transport answers them with a pong echoing the payload (libwebsockets does this by
// itself), so there is no application-level keepalive text.
#include "mdbus/venues/binance.hpp"
#include "mdbus/venues/registry.hpp"
#include "feeders/adapter_support.hpp"
#include "feeders/binance_family.hpp"
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
using namespace detail::binance;

// ---------------------------------------------------------------------------------------
// Stream names: "<symbol lowercase>@<suffix>".

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
void check_symbol(const venue_descriptor& d, std::string_view sym) {
  if (std::string why = d.symbol_problem(sym); !why.empty()) throw std::invalid_argument(std::string(d.name) + ": " + why);
}

std::string stream_name(const binance_family& fam, const subscription& sub) {
  const venue_descriptor& d = fam.descriptor();
  check_symbol(d, sub.symbol);
  auto refuse = [&](std::string_view why) {
    return std::invalid_argument(std::string(d.name) + ": " + std::string(to_string(sub.ch)) + " " + sub.symbol + ": " +
                                 std::string(why) + " (variant '" + sub.variant + "')");
  };
  // The suffix from (channel, variant); the descriptor's grammar must read it back the same.
  std::string suffix;
  if (sub.ch == channel::unknown || venue_of(sub.ch) != d.id) throw refuse("not a " + std::string(d.title) + " channel");
  if (sub.ch == fam.depth_partial) {
    suffix = "depth" + sub.variant;
  } else {
    suffix = sub.ch == fam.depth ? "depth" : std::string(to_string(sub.ch));
    if (!sub.variant.empty()) suffix.append("@").append(sub.variant);
  }
  const parsed_channel p = d.parse_channel(suffix);
  if (p.id != sub.ch || p.variant != sub.variant)
    throw refuse(sub.ch == fam.depth_partial ? fam.partial_variants
                 : sub.ch == fam.depth       ? fam.depth_variants
                 : sub.ch == fam.mark_price  ? "variant must be empty (every 3 s) or 1s"
                                             : "takes no variant");
  std::string name;
  for (const char c : sub.symbol) name.push_back(ascii_lower(c));
  return name.append("@").append(suffix);
}

/// The URL path that serves these streams (the descriptor's route, "" or "/public"): one
/// connection serves one route.
std::string_view route_of(const binance_family& fam, std::span<const subscription> subs) {
  std::string_view route;
  for (std::size_t i = 0; i < subs.size(); ++i) {
    const channel_rule* r = find_channel_rule(subs[i].ch);
    const std::string_view mine = r != nullptr ? r->route : std::string_view{};
    if (i > 0 && mine != route)
      throw std::invalid_argument(std::string(fam.descriptor().name) + ": " + std::string(to_string(subs[0].ch)) + " (" +
                                  std::string(route) + ") and " + std::string(to_string(subs[i].ch)) + " (" +
                                  std::string(mine) + ") are served on different paths: one connection serves one path");
    route = mine;
  }
  return route;
}

// ---------------------------------------------------------------------------------------

/// How long a URL path grows with streams before the rest go in SUBSCRIBE messages. The venue
/// documents no URL limit; servers commonly refuse request heads beyond 4–8 KB, and 2000
/// characters hold about 90 streams.
constexpr std::size_t kMaxUrlPath = 2000;
/// Streams per SUBSCRIBE message: five messages carry a full connection (1024 streams).
constexpr std::size_t kStreamsPerSubscribe = 200;

class binance_adapter final : public venue_adapter {
 public:
  binance_adapter(const binance_family& family, const adapter_options& options)
      : fam_(family),
        desc_(family.descriptor()),
        options_(options),
        parser_(options.max_message_bytes),
        levels_(max_levels_in(options.max_message_bytes)),
        stage_(options.max_message_bytes),
        levels_per_record_(book_levels_per_record(options.max_record_bytes)) {
    // Warm-up happens here: the parser's buffers for the largest message we accept.
    if (const auto e = parser_.allocate(options.max_message_bytes))
      throw std::runtime_error(std::string(desc_.name) + " adapter: cannot allocate the JSON parser: " + simdjson::error_message(e));
  }

  [[nodiscard]] venue id() const noexcept override { return desc_.id; }

  /// "<route>/stream?streams=a/b": the streams in the URL, so no SUBSCRIBE message counts
  /// against the venue's incoming-message limit (spot 5/s, USD-M 10/s) — as many as fit in
  /// kMaxUrlPath; subscribe_messages() carries the rest. USD-M routes by path since 2026-04-23
  /// ("WebSocket Market Streams": /public for depth and bookTicker, /market for trades; a
  /// stream on a path that does not route it stays silent): every stream of one connection
  /// must share its path (the config keeps them so).
  [[nodiscard]] std::string ws_path(std::span<const subscription> subs) const override {
    std::string path(route_of(fam_, subs));
    path.append("/stream");
    const std::size_t n = in_url(subs);
    for (std::size_t i = 0; i < n; ++i) path.append(i == 0 ? "?streams=" : "/").append(stream_name(fam_, subs[i]));
    return path;
  }

  /// The streams the URL could not hold, kStreamsPerSubscribe to a SUBSCRIBE message
  /// (web-socket-streams.md "Live Subscribing/Unsubscribing to streams", 2026-12), ids 3, 4, …
  /// Each message counts against the connection's incoming-message limit: the feeder paces
  /// them (venue_descriptor::connection). None when every stream fits in the URL.
  [[nodiscard]] std::vector<std::string> subscribe_messages(std::span<const subscription> subs) const override {
    (void)ws_path(subs);  // same validation
    std::vector<std::string> out;
    int id = 3;
    for (std::size_t at = in_url(subs); at < subs.size(); at += kStreamsPerSubscribe)
      out.push_back(control_message("SUBSCRIBE", subs.subspan(at, std::min(kStreamsPerSubscribe, subs.size() - at)), id++));
    return out;
  }

  /// How many of `subs`, from the first, the URL path holds within kMaxUrlPath (at least one).
  [[nodiscard]] std::size_t in_url(std::span<const subscription> subs) const {
    std::size_t len = route_of(fam_, subs).size() + std::string_view("/stream?streams=").size();
    std::size_t n = 0;
    for (const auto& sub : subs) {
      const std::size_t add = stream_name(fam_, sub).size() + (n == 0 ? 0 : 1);
      if (n > 0 && len + add > kMaxUrlPath) break;
      len += add;
      ++n;
    }
    return n;
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

  [[nodiscard]] std::string control_message(std::string_view method, std::span<const subscription> subs, int id) const {
    std::string msg = R"({"method":")";
    msg.append(method).append(R"(","params":[)");
    char sep = ' ';
    for (const auto& sub : subs) {
      if (sep == ',') msg.push_back(',');
      sep = ',';
      msg.append("\"").append(stream_name(fam_, sub)).append("\"");
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
      table.add(0, stream_name(fam_, sub), sub.ch);
      std::string upper;
      for (const char c : sub.symbol) upper.push_back(ascii_upper(c));
      table.add(static_cast<std::uint8_t>(sub.ch), upper, sub.ch);  // a raw stream's event type and s
    }
    subscribed_ = std::move(table);
    filter_ = true;
  }

  [[nodiscard]] parse_result parse(simdjson::padded_string_view message, std::int64_t receive_ns,
                                   record_sink& sink) noexcept override;

  /// The venue's instrument list for these symbols (binance_family::instruments_path).
  [[nodiscard]] std::string instruments_path(std::span<const std::string> symbols) const override {
    for (const auto& sym : symbols) check_symbol(desc_, sym);
    return fam_.instruments_path(symbols);
  }
  [[nodiscard]] std::uint32_t instruments_cost() const noexcept override { return fam_.instruments_cost; }
  [[nodiscard]] instrument_check check_instruments(int status, std::string_view body,
                                                   std::span<const std::string> symbols) const override;

  [[nodiscard]] std::string snapshot_path(const subscription& sub, int depth) const override {
    const std::string venue_name(desc_.name);
    if (sub.ch != fam_.depth) throw std::invalid_argument(venue_name + ": REST snapshots are for the depth channel");
    check_symbol(desc_, sub.symbol);
    if (!fam_.depth_limit_ok(depth))
      throw std::invalid_argument(venue_name + ": " + std::string(fam_.depth_path) + " does not take limit " + std::to_string(depth));
    std::string path(fam_.depth_path);
    path.append("?symbol=");
    for (const char c : sub.symbol) path.push_back(ascii_upper(c));
    path.append("&limit=").append(std::to_string(depth));
    return path;
  }

  /// The diff depth stream joins a REST snapshot by the venue's documented procedure (its
  /// descriptor's join rule; the merger applies it). Partial depth is a snapshot in every message.
  [[nodiscard]] resync_plan resync_plan_for(channel c) const noexcept override {
    if (c == fam_.depth) return {resync_method::rest_snapshot, fam_.resync_depth, fam_.depth_weight(fam_.resync_depth)};
    return {};
  }

  [[nodiscard]] parse_result parse_snapshot(const subscription& sub, simdjson::padded_string_view body,
                                            std::int64_t receive_ns, record_sink& sink) noexcept override;

  /// Backfill (issue 16): trade and aggTrade ids count up by one, and the venue keeps them
  /// behind public history endpoints paged by fromId (binance_family: paths and weights).
  [[nodiscard]] backfill_plan backfill_plan_for(channel c) const noexcept override {
    if (c == fam_.trade && !fam_.trades_history_path.empty())
      return {true, fam_.trades_history_cost, fam_.trades_history_rows};
    if (c == fam_.agg_trade && !fam_.agg_history_path.empty()) return {true, fam_.agg_history_cost, fam_.agg_history_rows};
    return {};
  }
  [[nodiscard]] std::string backfill_path(const subscription& sub, std::uint64_t from, std::size_t limit) const override {
    const backfill_plan plan = backfill_plan_for(sub.ch);
    if (!plan.available) return venue_adapter::backfill_path(sub, from, limit);
    check_symbol(desc_, sub.symbol);
    std::string path(sub.ch == fam_.trade ? fam_.trades_history_path : fam_.agg_history_path);
    path.append("?symbol=");
    for (const char c : sub.symbol) path.push_back(ascii_upper(c));
    path.append("&fromId=").append(std::to_string(from));
    path.append("&limit=").append(std::to_string(std::clamp<std::size_t>(limit, 1, plan.max_rows)));
    return path;
  }
  [[nodiscard]] parse_result parse_backfill(const subscription& sub, simdjson::padded_string_view body, std::uint64_t from,
                                            std::uint64_t to, std::int64_t receive_ns, record_sink& sink,
                                            backfill_page& page) noexcept override;

 private:
  failure on_event(channel ch, od::value& value, stream_stamp& st, record_writer& w) noexcept {
    od::object data;
    if (const failure f = as_object(value, data, "data: not an object")) return f;
    return on_event(ch, data, st, w);
  }

  failure on_event(channel ch, od::object& data, stream_stamp& st, record_writer& w) noexcept {
    st.channel_id = ch;
    if (ch == channel::unknown) return {parse_error::unknown_stream, "stream not decoded"};
    if (ch == fam_.trade) return parse_trade(data, st, w);
    if (ch == fam_.agg_trade) return parse_agg_trade(data, st, w);
    if (ch == fam_.book_ticker) return parse_book_ticker(data, st, w);
    if (ch == fam_.depth) return parse_depth(data, st, w, levels_, fam_.diff_shape);
    if (ch == fam_.mark_price) return parse_mark_price(data, st, w);
    if (ch == fam_.depth_partial)
      return fam_.partial_is_depth_update ? parse_depth(data, st, w, levels_, depth_shape::top_levels)
                                          : parse_depth_snapshot(data, st, w, levels_, 0, nullptr);
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
      ch = desc_.parse_channel(stream.substr(at + 1)).id;  // the descriptor's grammar; unknown for kline_1m, …
    }
    if (ch == channel::unknown) return {parse_error::unknown_stream, stream};
    set_upper_symbol(st, stream.substr(0, at));
    return on_event(ch, data, st, w);
  }

  parse_result parse_raw(od::document& doc, std::string_view first_key, std::string_view event, stream_stamp& st,
                         record_writer& w) noexcept;

  /// The stamp of a REST answer's records: the stream `sub` names, this slot, the answer's time.
  [[nodiscard]] stream_stamp rest_stamp(const subscription& sub, std::int64_t receive_ns) const noexcept {
    stream_stamp st;
    st.venue_id = desc_.id;
    st.channel_id = sub.ch;
    st.slot = options_.slot;
    st.receive_ns = receive_ns;
    set_upper_symbol(st, sub.symbol);
    return st;
  }

  /// A good message's records go to the sink; a failure leaves nothing there.
  static parse_result finish(record_writer& w, failure f, control_event ev = control_event::none) noexcept {
    if (!f) f = w.commit();
    return result_of(w, f, ev);
  }

  const binance_family& fam_;
  const venue_descriptor& desc_;
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
  st.venue_id = desc_.id;
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
    ch = fam_.book_ticker;
  } else if (first_key == "lastUpdateId") {
    // Partial depth names no symbol: only the combined stream's name tells streams apart.
    return result_of(w, {parse_error::unknown_stream, "partial depth outside a combined stream"});
  } else if (event == "serverShutdown") {
    return result_of(w, kOk, control_event::going_away);
  } else if (event == "trade") {
    ch = fam_.trade;
  } else if (event == "aggTrade") {
    ch = fam_.agg_trade;
  } else if (event == "markPriceUpdate" && fam_.mark_price != channel::unknown) {
    ch = fam_.mark_price;
  } else if (event == "depthUpdate") {
    // Diff depth. (USD-M partial depth is a depthUpdate too: a raw stream cannot tell the two
    // apart, only a combined stream's name can, which is what ws_path asks for.)
    ch = fam_.depth;
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
  if (sub.ch != fam_.depth) return result_of(w, {parse_error::unknown_stream, "REST snapshots are for the depth channel"});
  if (body.length() > options_.max_message_bytes) return result_of(w, {parse_error::message_too_large, "body too large"});
  od::document doc;
  if (const auto e = parser_.iterate(body).get(doc)) return result_of(w, {from_simdjson(e, parse_error::not_json), "not JSON"});
  od::object root;
  if (const failure f = root_object(doc, root)) return result_of(w, f);
  stream_stamp st = rest_stamp(sub, receive_ns);
  std::string_view venue_msg = "error reply";
  const failure f = parse_depth_snapshot(root, st, w, levels_, kHeaderFromRest, &venue_msg);
  if (f.error == parse_error::venue_error) return result_of(w, f, control_event::venue_error);
  if (f) return result_of(w, f);
  if (!at_document_end(doc)) return result_of(w, {parse_error::not_json, "content after the JSON object"});
  return finish(w, kOk);
}

parse_result binance_adapter::parse_backfill(const subscription& sub, simdjson::padded_string_view body, std::uint64_t from,
                                             std::uint64_t to, std::int64_t receive_ns, record_sink& sink,
                                             backfill_page& page) noexcept {
  record_writer w(sink, stage_, levels_per_record_);
  page = {};
  if (!backfill_plan_for(sub.ch).available)
    return result_of(w, {parse_error::unknown_stream, "no trade history for this channel"});
  if (body.length() > options_.max_message_bytes) return result_of(w, {parse_error::message_too_large, "body too large"});
  od::document doc;
  if (const auto e = parser_.iterate(body).get(doc)) return result_of(w, {from_simdjson(e, parse_error::not_json), "not JSON"});
  stream_stamp st = rest_stamp(sub, receive_ns);
  std::string_view venue_msg = "error reply";
  const history_kind kind = sub.ch == fam_.trade ? history_kind::trades : history_kind::agg_trades;
  const failure f = parse_history(doc, kind, from, to, st, w, page, venue_msg);
  if (f.error == parse_error::venue_error) return result_of(w, f, control_event::venue_error);
  if (f) {
    page = {};
    return result_of(w, f);
  }
  if (!at_document_end(doc)) {
    page = {};
    return result_of(w, {parse_error::not_json, "content after the JSON array"});
  }
  return finish(w, kOk);
}

/// The reference data of `symbols` from an exchangeInfo answer (spot rest-api.md and USD-M
/// "Exchange Information", 2026-12). Both venues size orders and trades in the base asset, so
/// the contract value is 1 `baseAsset`. The kind: no `contractType` is spot; PERPETUAL (and
/// TRADIFI_PERPETUAL) a perpetual; any other (CURRENT_QUARTER, NEXT_QUARTER) a dated future.
/// Tick and lot are PRICE_FILTER.tickSize and LOT_SIZE.stepSize; filters.md: a tickSize or
/// stepSize of 0 disables that rule, so 0 is absent, not a value. Text that is not a decimal
/// >= 0 is a problem (the answer is not used).
std::vector<instrument_record> binance_reference_of(simdjson::dom::array listed, std::span<const std::string> symbols,
                                                    venue id, std::vector<std::string>& problems) {
  std::vector<instrument_record> out;
  for (const auto& want : symbols) {
    const auto entry = listed_entry(listed, "symbol", want);
    if (!entry) continue;
    const simdjson::dom::element e = *entry;
    auto r = reference_record(id, want);
    std::string_view text;
    if (e["contractType"].get(text) != simdjson::SUCCESS || text.empty())
      r.kind = instrument_kind::spot;
    else
      r.kind = text == "PERPETUAL" || text == "TRADIFI_PERPETUAL" ? instrument_kind::perpetual : instrument_kind::future;
    r.set_contract_value({1, 0});
    if (e["baseAsset"].get(text) == simdjson::SUCCESS) (void)r.set_contract_currency(text);
    simdjson::dom::array filters;
    if (e["filters"].get(filters) == simdjson::SUCCESS)
      for (auto f : filters) {
        std::string_view type;
        if (f["filterType"].get(type) != simdjson::SUCCESS) continue;
        const char* key = type == "PRICE_FILTER" ? "tickSize" : type == "LOT_SIZE" ? "stepSize" : nullptr;
        if (key == nullptr || f[key].get(text) != simdjson::SUCCESS) continue;
        decimal d{};
        if (parse_decimal(text, d) != parse_status::ok || d.mantissa < 0) {
          problems.push_back("\"" + want + "\": exchangeInfo " + std::string(type) + "." + key + " \"" +
                             std::string(text) + "\" is not a decimal >= 0");
          continue;
        }
        if (d.mantissa == 0) continue;
        if (type == "PRICE_FILTER")
          r.set_tick_size(d);
        else
          r.set_lot_size(d);
      }
    out.push_back(r);
  }
  if (!problems.empty()) out.clear();
  return out;
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
          out.problems.push_back("\"" + symbols[0] + "\" is not listed by " + std::string(desc_.title) + " (exchangeInfo: -1121 Invalid symbol)");
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
    check_listed(listed, symbols, {desc_.title.data(), "exchangeInfo", "symbol", "status", "TRADING"}, out.problems);
    if (out.problems.empty()) out.instruments = binance_reference_of(listed, symbols, desc_.id, out.problems);
  } catch (const std::exception& e) {  // allocation failure
    out.problems.assign(1, std::string("exchangeInfo: ") + e.what());
    return out;
  }
  out.result = out.problems.empty() ? instrument_check::outcome::ok : instrument_check::outcome::refused;
  return out;
}

}  // namespace

namespace detail {

std::unique_ptr<venue_adapter> make_binance_family_adapter(const binance_family& family, const adapter_options& options) {
  return std::make_unique<binance_adapter>(family, options);
}

namespace {

/// rest-api.md "Exchange information" (2026-12): GET /api/v3/exchangeInfo?symbols=["A","B"],
/// weight 20; each symbol's "status" must be "TRADING". An unknown symbol in the list fails
/// the whole query with 400 / -1121 "Invalid symbol.": then each symbol is asked alone
/// (check_instruments answers ask_each).
std::string spot_instruments_path(std::span<const std::string> symbols) {
  std::string path = "/api/v3/exchangeInfo?symbol";
  if (symbols.size() == 1) return path.append("=").append(symbols[0]);
  path.append("s=%5B");  // the JSON array, URL-encoded: [ " , ]
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    if (i > 0) path.append("%2C");
    path.append("%22").append(symbols[i]).append("%22");
  }
  return path.append("%5D");
}

/// rest-api.md "Order book" (2026-12): limit 1..5000.
bool spot_depth_limit_ok(int limit) noexcept { return limit >= 1 && limit <= 5000; }

/// Binance spot: its channels, diff depth with U/u (joined by covering lastUpdateId + 1),
/// partial depth as {lastUpdateId, bids, asks}, GET /api/v3/depth. The resync asks for 1000
/// levels: weight 50 of the 6000/min, against 250 for 5000.
constexpr binance_family kSpot{
    .descriptor = &venues::binance,
    .trade = channel::binance_trade,
    .agg_trade = channel::binance_agg_trade,
    .book_ticker = channel::binance_book_ticker,
    .depth = channel::binance_depth,
    .depth_partial = channel::binance_depth_partial,
    .diff_shape = binance::depth_shape::spot_diff,
    .partial_is_depth_update = false,
    .depth_variants = "variant must be empty, 100ms or 1000ms",
    .partial_variants = "variant must be 5, 10 or 20, optionally @100ms or @1000ms",
    .depth_path = "/api/v3/depth",
    .resync_depth = 1000,
    .depth_weight = &binance_depth_weight,
    .depth_limit_ok = &spot_depth_limit_ok,
    .instruments_path = &spot_instruments_path,
    .instruments_cost = kBinanceExchangeInfoWeight,
    // rest-api.md "Old trade lookup" (no API key since 2023-07-11; weight 25, limit max 1000)
    // and "Compressed/Aggregate trades list" (weight 4, limit max 1000), checked 2026-12-07.
    .trades_history_path = "/api/v3/historicalTrades",
    .trades_history_cost = 25,
    .trades_history_rows = 1000,
    .agg_history_path = "/api/v3/aggTrades",
    .agg_history_cost = 4,
    .agg_history_rows = 1000,
};

}  // namespace

std::unique_ptr<venue_adapter> make_binance_adapter(const adapter_options& options) {
  return make_binance_family_adapter(kSpot, options);
}

}  // namespace detail

}  // namespace mdbus::feed
