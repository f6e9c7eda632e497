// OKX v5 public channels (docs "WebSocket > Public channel": trades, tickers, bbo-tbt,
// books, books5, books-l2-tbt; "Public Data": mark-price, funding-rate in okx_events.cpp), the
// REST order book (GET /api/v5/market/books) and the instrument list (reference data). Field
// meanings and sequence rules are in feeders/CONFORMANCE.md (doc section and date per rule);
// the record mapping is in bus/include/mdbus/records.hpp.
//
// Keepalive: OKX closes a connection after 30 s without traffic and answers the text
// "ping" with the text "pong"; the feeder sends keepalive_text() after its configured
// quiet period and reconnects when parse() reports no control_event::pong in time.
#include "bus/venue_budget_core.hpp"
#include "mdbus/venues/registry.hpp"
#include "feeders/adapter_support.hpp"
#include "feeders/okx_events.hpp"
#include "feeders/venue_adapter.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mdbus::feed {
namespace detail {
std::unique_ptr<venue_adapter> make_okx_adapter(const adapter_options& options);
}

namespace {

using namespace detail;

/// "Connections: the total length of one request's args must not exceed 64 KB": keep
/// each whole subscribe request below it.
constexpr std::size_t kMaxRequestBytes = 64 * 1024;

/// The notice OKX sends 60 s before closing connections for a service upgrade.
constexpr std::string_view kServiceUpgradeNotice = "64008";

channel okx_channel(std::string_view s) noexcept {
  switch (s.size()) {
    case 5: return s == "books" ? channel::okx_books : channel::unknown;
    case 6: return s == "trades" ? channel::okx_trades : s == "books5" ? channel::okx_books5 : channel::unknown;
    case 7: return s == "tickers" ? channel::okx_tickers : s == "bbo-tbt" ? channel::okx_bbo_tbt : channel::unknown;
    case 10: return s == "mark-price" ? channel::okx_mark_price : channel::unknown;
    case 12:
      return s == "books-l2-tbt" ? channel::okx_books_l2_tbt : s == "funding-rate" ? channel::okx_funding_rate : channel::unknown;
    default: return channel::unknown;
  }
}

/// books and books-l2-tbt say in `action` whether data is a snapshot or an update.
bool has_action(channel c) noexcept { return c == channel::okx_books || c == channel::okx_books_l2_tbt; }

/// instIds go into subscription arguments and REST queries: only the venue's grammar (its
/// descriptor: upper-case parts joined by '-', as the config spells them).
void check_inst_id(std::string_view inst) {
  if (std::string why = venues::okx().symbol_problem(inst); !why.empty()) throw std::invalid_argument("okx: " + why);
}

/// An error or notice code: OKX sends strings ("60012"); accept a bare number too.
std::string_view code_text(od::value& v) noexcept {
  std::string_view s;
  if (read_string(v, s) == parse_error::none) return s;
  return trim_token(v.raw_json_token());
}

parse_error read_qty(od::value& v, decimal& out) noexcept {
  const parse_error e = read_decimal(v, out);
  if (e == parse_error::none && out.mantissa < 0) return parse_error::bad_number;
  return e;
}

// ---------------------------------------------------------------------------------------
// Data elements. Each reads one element of `data` in any field order, ignores unknown
// fields, and writes its record(s) once the element has been read whole.

using okx::match_inst_id;

/// One side of a best bid/offer: a present side (size > 0) has a price > 0; an empty one
/// reads ""/"" (tickers) or 0/0. A negative price is never one.
bool side_ok(decimal px, decimal qty) noexcept { return px.mantissa > 0 || (px.mantissa == 0 && qty.mantissa == 0); }

/// One trade: a trades channel element, or a history-trades row (the same fields but count).
failure read_trade(od::object& obj, const stream_stamp& st, trade_record& r) noexcept {
  static constexpr std::string_view kNames[] = {"trades.tradeId", "trades.px",    "trades.sz",    "trades.side",
                                                "trades.ts",      "trades.count", "trades.instId"};
  decimal px;
  decimal qty;
  unsigned seen = 0;
  const failure f = for_each_field(obj, [&](od::raw_json_string key, od::value& v) -> failure {
    int bit = -1;
    switch (key.raw()[0]) {
      case 't': bit = key_is(key, "tradeId") ? 0 : key_is(key, "ts") ? 4 : -1; break;
      case 'p': bit = key_is(key, "px") ? 1 : -1; break;
      case 's': bit = key_is(key, "sz") ? 2 : key_is(key, "side") ? 3 : -1; break;
      case 'c': bit = key_is(key, "count") ? 5 : -1; break;  // trades aggregated into this message
      case 'i': bit = key_is(key, "instId") ? 6 : -1; break;
      default: break;
    }
    if (bit < 0) return kOk;
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    switch (bit) {
      case 0: e = read_quoted_u64(v, r.header.seq); break;
      case 1: e = read_decimal(v, px); break;
      case 2: e = read_qty(v, qty); break;
      case 3: {
        std::string_view side;
        e = read_string(v, side);
        if (e != parse_error::none) break;
        if (side == "buy") {
          r.aggressor = aggressor_side::buy;
        } else if (side == "sell") {
          r.aggressor = aggressor_side::sell;
        } else {
          return {parse_error::unexpected_shape, "trades.side: not buy or sell"};
        }
        break;
      }
      case 4: e = read_quoted_ms_time(v, r.header.venue_time_ns); break;
      case 5: {
        std::uint64_t n = 0;
        e = read_quoted_u64(v, n);
        r.trade_count = n <= UINT32_MAX ? static_cast<std::uint32_t>(n) : 0;
        break;
      }
      default: return match_inst_id(v, st, kNames[6]);
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (const failure m = missing(seen, 0x1FU, kNames)) return m;
  // A trade has a price and a size: both > 0 (a negative size is already bad_number).
  if (px.mantissa <= 0) return {parse_error::invalid_value, "trades.px <= 0"};
  if (qty.mantissa == 0) return {parse_error::invalid_value, "trades.sz 0"};
  r.header.flags = kHeaderHasSeq;
  r.set_px(px);
  r.set_qty(qty);
  st.apply(r.header);
  return kOk;
}

failure parse_trade(od::object& obj, const stream_stamp& st, record_writer& w) noexcept {
  auto r = make_record<trade_record>();
  if (const failure f = read_trade(obj, st, r)) return f;
  return w.write(r);
}

failure parse_ticker(od::object& obj, const stream_stamp& st, record_writer& w) noexcept {
  static constexpr std::string_view kNames[] = {"tickers.bidPx", "tickers.bidSz", "tickers.askPx", "tickers.askSz",
                                                "tickers.ts",    "tickers.instId"};
  auto r = make_record<bbo_record>();
  decimal bid_px, bid_qty, ask_px, ask_qty;
  unsigned seen = 0;
  const failure f = for_each_field(obj, [&](od::raw_json_string key, od::value& v) -> failure {
    int bit = -1;
    if (key_is(key, "bidPx")) {
      bit = 0;
    } else if (key_is(key, "bidSz")) {
      bit = 1;
    } else if (key_is(key, "askPx")) {
      bit = 2;
    } else if (key_is(key, "askSz")) {
      bit = 3;
    } else if (key_is(key, "ts")) {
      bit = 4;
    } else if (key_is(key, "instId")) {
      bit = 5;
    } else {
      return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    // An empty side is sent as "" (no bids on an illiquid instrument): a zero level.
    switch (bit) {
      case 0: e = read_decimal_or_empty(v, bid_px); break;
      case 1: e = read_decimal_or_empty(v, bid_qty); break;
      case 2: e = read_decimal_or_empty(v, ask_px); break;
      case 3: e = read_decimal_or_empty(v, ask_qty); break;
      case 4: e = read_quoted_ms_time(v, r.header.venue_time_ns); break;
      default: return match_inst_id(v, st, kNames[5]);
    }
    if (e == parse_error::none && (bit == 1 || bit == 3) && (bit == 1 ? bid_qty : ask_qty).mantissa < 0)
      e = parse_error::bad_number;
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  if (const failure m = missing(seen, 0x1FU, kNames)) return m;
  if (!side_ok(bid_px, bid_qty)) return {parse_error::invalid_value, "tickers.bidPx <= 0"};
  if (!side_ok(ask_px, ask_qty)) return {parse_error::invalid_value, "tickers.askPx <= 0"};
  // No sequence: the merger deduplicates tickers by event time and content.
  r.bid = make_level(book_side::bid, bid_px, bid_qty);
  r.ask = make_level(book_side::ask, ask_px, ask_qty);
  st.apply(r.header);
  return w.write(r);
}

/// Fields shared by bbo-tbt and the book channels.
struct book_fields {
  std::int64_t ts_ns = 0;
  std::uint64_t seq = 0;
  std::int64_t prev_seq = 0;
  std::int64_t checksum = 0;
  std::span<const book_level> levels;  ///< this element's, in the message's level_buffer
  bool has_seq = false, has_prev = false, has_checksum = false;
};

/// asks, bids (appended to `levels`), ts, seqId, prevSeqId, checksum, instId. asks, bids and
/// ts are required.
failure parse_book_fields(od::object& obj, const stream_stamp& st, level_buffer& levels, book_fields& b) noexcept {
  static constexpr std::string_view kNames[] = {"book.asks",      "book.bids",     "book.ts",    "book.seqId",
                                                "book.prevSeqId", "book.checksum", "book.instId"};
  const std::size_t begin = levels.size();
  unsigned seen = 0;
  const failure f = for_each_field(obj, [&](od::raw_json_string key, od::value& v) -> failure {
    int bit = -1;
    if (key_is(key, "asks")) {
      bit = 0;
    } else if (key_is(key, "bids")) {
      bit = 1;
    } else if (key_is(key, "ts")) {
      bit = 2;
    } else if (key_is(key, "seqId")) {
      bit = 3;
    } else if (key_is(key, "prevSeqId")) {
      bit = 4;
    } else if (key_is(key, "checksum")) {
      bit = 5;
    } else if (key_is(key, "instId")) {  // books5 sends one
      bit = 6;
    } else {
      return kOk;
    }
    if (seen & (1U << bit)) return duplicate(kNames[bit]);
    seen |= 1U << bit;
    parse_error e = parse_error::none;
    switch (bit) {
      case 0: return read_levels(v, book_side::ask, levels);
      case 1: return read_levels(v, book_side::bid, levels);
      case 2: e = read_quoted_ms_time(v, b.ts_ns); break;
      case 3:
        e = read_u64(v, b.seq);  // a negative seqId is bad_number
        b.has_seq = true;
        break;
      case 4:
        e = read_i64(v, b.prev_seq);
        // "Order book channel": prevSeqId is -1 on a snapshot, else a previous seqId (>= 0).
        if (e == parse_error::none && b.prev_seq < -1) return {parse_error::invalid_value, "book.prevSeqId < -1"};
        b.has_prev = true;
        break;
      case 5:
        e = read_i64(v, b.checksum);
        if (e == parse_error::none && (b.checksum < INT32_MIN || b.checksum > INT32_MAX)) e = parse_error::bad_number;
        b.has_checksum = true;
        break;
      default: return match_inst_id(v, st, kNames[6]);
    }
    if (e != parse_error::none) return {e, kNames[bit]};
    return kOk;
  });
  if (f) return f;
  b.levels = levels.levels().subspan(begin);
  return missing(seen, 0x7U, kNames);
}

void stamp_sequence(record_header& h, const book_fields& b) noexcept {
  h.venue_time_ns = b.ts_ns;
  if (b.has_seq) {
    h.seq = b.seq;
    h.flags |= kHeaderHasSeq;
  }
  if (b.has_prev) {
    h.prev_seq = b.prev_seq;
    h.flags |= kHeaderHasPrevSeq;
  }
}

failure parse_bbo(od::object& obj, const stream_stamp& st, record_writer& w, level_buffer& levels) noexcept {
  book_fields b;
  if (const failure f = parse_book_fields(obj, st, levels, b)) return f;
  auto r = make_record<bbo_record>();
  r.bid.side = book_side::bid;  // qty 0 when the side is empty
  r.ask.side = book_side::ask;
  bool have_bid = false, have_ask = false;
  for (const book_level& l : b.levels) {
    if (l.side == book_side::bid && !have_bid) r.bid = l, have_bid = true;
    if (l.side == book_side::ask && !have_ask) r.ask = l, have_ask = true;
  }
  stamp_sequence(r.header, b);
  st.apply(r.header);
  return w.write(r);
}

/// `type`: book_snapshot or book_delta; `extra_flags`: kHeaderFromRest for REST bodies.
failure parse_book(od::object& obj, record_type type, std::uint8_t extra_flags, const stream_stamp& st,
                   record_writer& w, level_buffer& levels) noexcept {
  book_fields b;
  if (const failure f = parse_book_fields(obj, st, levels, b)) return f;
  auto r = make_book_record(type);
  r.header.flags = extra_flags;
  stamp_sequence(r.header, b);
  // Production sends checksum 0 since 2026-06-23 (deprecated): only a non-zero one is
  // the venue's CRC to validate.
  if (b.has_checksum && b.checksum != 0) {
    r.checksum = static_cast<std::int32_t>(b.checksum);
    r.book_flags |= kBookChecksumPresent;
  }
  st.apply(r.header);
  return w.write_book(r, b.levels);
}

// ---------------------------------------------------------------------------------------

class okx_adapter final : public venue_adapter {
 public:
  explicit okx_adapter(const adapter_options& options)
      : options_(options),
        parser_(options.max_message_bytes),
        levels_(max_levels_in(options.max_message_bytes)),
        stage_(options.max_message_bytes),
        levels_per_record_(book_levels_per_record(options.max_record_bytes)) {
    // Warm-up happens here: the parser's buffers for the largest message we accept.
    if (const auto e = parser_.allocate(options.max_message_bytes))
      throw std::runtime_error(std::string("okx adapter: cannot allocate the JSON parser: ") + simdjson::error_message(e));
  }

  [[nodiscard]] venue id() const noexcept override { return venue::okx; }

  [[nodiscard]] std::string ws_path(std::span<const subscription> subs) const override {
    for (const auto& sub : subs) check(sub);
    return "/ws/v5/public";
  }

  [[nodiscard]] std::vector<std::string> subscribe_messages(std::span<const subscription> subs) const override {
    return requests("subscribe", subs);
  }

  [[nodiscard]] std::vector<std::string> unsubscribe_messages(std::span<const subscription> subs) const override {
    return requests("unsubscribe", subs);
  }

  /// OKX v5 "Subscribe"/"Unsubscribe" (2026-12): two requests of the 480 per connection per hour.
  [[nodiscard]] std::vector<std::string> resubscribe_messages(std::span<const subscription> subs) const override {
    std::vector<std::string> out = requests("unsubscribe", subs);
    for (auto& m : requests("subscribe", subs)) out.push_back(std::move(m));
    return out;
  }

  [[nodiscard]] std::string_view keepalive_text() const noexcept override { return "ping"; }

  /// Pushes name their stream in arg ("WebSocket > Public channel": {"arg":{"channel":…,
  /// "instId":…},"data":[…]}), exactly as we subscribed to it.
  void set_subscriptions(std::span<const subscription> subs) override {
    stream_table table;
    for (const auto& sub : subs) {
      check(sub);
      table.add(static_cast<std::uint8_t>(sub.ch), sub.symbol, sub.ch);
    }
    subscribed_ = std::move(table);
    filter_ = true;
  }

  [[nodiscard]] parse_result parse(simdjson::padded_string_view message, std::int64_t receive_ns,
                                   record_sink& sink) noexcept override;

  /// OKX v5 "Get instruments" (2026-12): GET /api/v5/public/instruments?instType=<type>, 20
  /// requests / 2 s; each instrument's "state" must be "live". instType is required and one per
  /// query: SPOT, or SWAP for perpetuals ("-SWAP" instIds). One query lists every instrument of
  /// the type (a few hundred KB); a set mixing both types is asked instId by instId (check_instruments
  /// answers ask_each), each query naming its instId.
  [[nodiscard]] std::string instruments_path(std::span<const std::string> symbols) const override {
    for (const auto& s : symbols) check_inst_id(s);
    std::string path = "/api/v5/public/instruments?instType=";
    path.append(symbols.empty() ? "SPOT" : venues::okx_inst_type(symbols.front()));
    if (symbols.size() == 1) path.append("&instId=").append(symbols.front());
    return path;
  }
  [[nodiscard]] std::uint32_t instruments_cost() const noexcept override { return okx_rest_cost(kOkxInstrumentsPer2s); }
  [[nodiscard]] instrument_check check_instruments(int status, std::string_view body,
                                                   std::span<const std::string> symbols) const override;

  [[nodiscard]] std::string snapshot_path(const subscription& sub, int depth) const override {
    if (sub.ch != channel::okx_books && sub.ch != channel::okx_books_l2_tbt)
      throw std::invalid_argument("okx: REST snapshots are for books and books-l2-tbt");
    check_inst_id(sub.symbol);
    if (depth < 1 || depth > 400) throw std::invalid_argument("okx: snapshot depth must be 1..400");
    return "/api/v5/market/books?instId=" + sub.symbol + "&sz=" + std::to_string(depth);
  }

  /// books (and books-l2-tbt): OKX no longer pushes a snapshot on subscribe (changelog
  /// "Delist initial snapshot and checksum field in order book channels", production from
  /// August 2026): the book is joined to a REST snapshot, GET /api/v5/market/books on the REST
  /// host (400 levels, the most the endpoint gives), and the merger applies the first update
  /// with prevSeqId <= snapshot seqId < seqId (OKX v5 docs "Order book channel", 2026-12).
  /// A pushed snapshot (prevSeqId -1), should a venue still send one, is accepted as before.
  /// books5 is a snapshot in every push and needs none.
  [[nodiscard]] resync_plan resync_plan_for(channel c) const noexcept override {
    if (has_action(c)) return {resync_method::rest_snapshot, 400, okx_rest_cost(kOkxBooksPer2s)};
    return {};
  }

  [[nodiscard]] parse_result parse_snapshot(const subscription& sub, simdjson::padded_string_view body,
                                            std::int64_t receive_ns, record_sink& sink) noexcept override;

  /// Backfill after a suspect window (issue 16): the trades channel's tradeIds are "not
  /// guaranteed consecutive" (one message per taker order, tradeId its last fill), so a hole
  /// never shows; OKX v5 "Get trades history" (2026-12) lists every fill, GET
  /// /api/v5/market/history-trades?instId=&type=1&after=<tradeId> (records older than the
  /// tradeId, newest first, limit <= 100, 20 requests / 2 s).
  [[nodiscard]] backfill_plan backfill_plan_for(channel c) const noexcept override {
    if (c != channel::okx_trades) return {};
    return {true, okx_rest_cost(kOkxHistoryTradesPer2s), kOkxHistoryTradesRows, true};
  }
  [[nodiscard]] std::string backfill_path(const subscription& sub, std::uint64_t below, std::size_t limit) const override {
    if (!backfill_plan_for(sub.ch).available) return venue_adapter::backfill_path(sub, below, limit);
    check_inst_id(sub.symbol);
    return "/api/v5/market/history-trades?instId=" + sub.symbol + "&type=1&after=" + std::to_string(below) +
           "&limit=" + std::to_string(std::clamp<std::size_t>(limit, 1, kOkxHistoryTradesRows));
  }
  [[nodiscard]] parse_result parse_backfill(const subscription& sub, simdjson::padded_string_view body, std::uint64_t from,
                                            std::uint64_t to, std::int64_t receive_ns, record_sink& sink,
                                            backfill_page& page) noexcept override;

 private:
  /// {"id":"n","op":<op>,"args":[{"channel":…,"instId":…},…]}, split so that no request
  /// exceeds kMaxRequestBytes. Subscribe and unsubscribe take the same args.
  static std::vector<std::string> requests(std::string_view op, std::span<const subscription> subs) {
    std::vector<std::string> out;
    std::string msg;
    std::size_t args = 0;
    auto close = [&] {
      msg.append("]}");
      out.push_back(std::move(msg));
      msg.clear();
      args = 0;
    };
    for (const auto& sub : subs) {
      check(sub);
      std::string arg = R"({"channel":")";
      arg.append(to_string(sub.ch)).append(R"(","instId":")").append(sub.symbol).append(R"("})");
      if (args > 0 && msg.size() + 1 + arg.size() + 2 > kMaxRequestBytes) close();
      if (args == 0) {
        msg = R"({"id":")" + std::to_string(out.size() + 1) + R"(","op":")";
        msg.append(op).append(R"(","args":[)");
      }
      if (args > 0) msg.push_back(',');
      msg.append(arg);
      ++args;
    }
    if (args > 0) close();
    return out;
  }

  static void check(const subscription& sub) {
    if (venue_of(sub.ch) != venue::okx) throw std::invalid_argument("okx: " + std::string(to_string(sub.ch)) + " is not an OKX channel");
    if (!sub.variant.empty()) throw std::invalid_argument("okx: channel " + std::string(to_string(sub.ch)) + " takes no variant");
    check_inst_id(sub.symbol);
    // "Funding rate channel": perpetual swaps only (the descriptor says which pairs OKX refuses).
    if (std::string why = venues::okx().subscription_problem(sub.ch, sub.symbol); !why.empty())
      throw std::invalid_argument("okx: " + why);
  }

  /// The elements of `data` for the channel in `st`.
  failure on_data(od::value& data, std::string_view action, const stream_stamp& st, record_writer& w) noexcept {
    record_type book_type = record_type::book_snapshot;  // books5: always a snapshot
    if (has_action(st.channel_id)) {
      if (action == "update") {
        book_type = record_type::book_delta;
      } else if (action != "snapshot") {
        return {action.empty() ? parse_error::missing_field : parse_error::unexpected_shape, "action"};
      }
    }
    od::array elements;
    if (const failure f = as_array(data, elements, "data: not an array")) return f;
    for (auto element : elements) {
      if (const auto e = element.error()) return {from_simdjson(e), "data: malformed"};
      od::value& ev = element.value_unsafe();
      od::object obj;
      if (const failure f = as_object(ev, obj, "data: element not an object")) return f;
      failure f;
      switch (st.channel_id) {
        case channel::okx_trades: f = parse_trade(obj, st, w); break;
        case channel::okx_tickers: f = parse_ticker(obj, st, w); break;
        case channel::okx_bbo_tbt: f = parse_bbo(obj, st, w, levels_); break;
        case channel::okx_mark_price: f = okx::parse_mark_price(obj, st, w); break;
        case channel::okx_funding_rate: f = okx::parse_funding_rate(obj, st, w); break;
        default: f = parse_book(obj, book_type, 0, st, w, levels_); break;
      }
      if (f) return f;
    }
    return kOk;
  }

  /// A good message's records go to the sink; a failure leaves nothing there.
  static parse_result finish(record_writer& w, failure f, control_event ev = control_event::none) noexcept {
    if (!f) f = w.commit();
    return result_of(w, f, ev);
  }

  /// The stream named by arg may carry data: a channel we decode and, once
  /// set_subscriptions() was called, one we subscribed to for this instId.
  [[nodiscard]] failure check_stream(const stream_stamp& st, std::string_view channel_name, std::string_view inst) const noexcept {
    if (st.channel_id == channel::unknown) return {parse_error::unknown_stream, channel_name};
    if (!st.has_symbol) return {parse_error::missing_field, "arg.instId"};
    if (filter_ && subscribed_.find(static_cast<std::uint8_t>(st.channel_id), inst) != st.channel_id)
      return {parse_error::unknown_stream, "arg: channel and instId not subscribed"};
    return kOk;
  }

  adapter_options options_;
  od::parser parser_;
  level_buffer levels_;
  record_stage stage_;
  std::size_t levels_per_record_;
  /// set_subscriptions(): tag channel + instId. Empty and unused until it is called.
  stream_table subscribed_;
  bool filter_ = false;
};

/// {"channel":"books","instId":"BTC-USDT",…}: the stream a push or an ack is about.
failure parse_arg(od::value& v, stream_stamp& st, std::string_view& channel_name, std::string_view& inst) noexcept {
  od::object obj;
  if (const failure f = as_object(v, obj, "arg: not an object")) return f;
  bool has_channel = false;
  return for_each_field(obj, [&](od::raw_json_string key, od::value& fv) -> failure {
    std::string_view s;
    if (key_is(key, "channel")) {
      if (has_channel) return duplicate("arg.channel");
      has_channel = true;
      if (read_string(fv, s) != parse_error::none) return {parse_error::wrong_type, "arg.channel"};
      channel_name = s;
      st.channel_id = okx_channel(s);
    } else if (key_is(key, "instId")) {
      if (st.has_symbol) return duplicate("arg.instId");
      if (read_string(fv, s) != parse_error::none) return {parse_error::wrong_type, "arg.instId"};
      inst = s;
      st.set_symbol(s);
    }
    return kOk;
  });
}

parse_result okx_adapter::parse(simdjson::padded_string_view message, std::int64_t receive_ns,
                                record_sink& sink) noexcept {
  record_writer w(sink, stage_, levels_per_record_);
  levels_.clear();
  if (message.length() > options_.max_message_bytes) return result_of(w, {parse_error::message_too_large, "message too large"});
  // The keepalive answer is the bare text "pong", not JSON.
  if (std::string_view(message.data(), message.length()) == "pong") return result_of(w, kOk, control_event::pong);
  od::document doc;
  if (const auto e = parser_.iterate(message).get(doc)) return result_of(w, {from_simdjson(e, parse_error::not_json), "not JSON"});
  od::object obj;
  if (const failure f = root_object(doc, obj)) return result_of(w, f);

  stream_stamp st;
  st.venue_id = venue::okx;
  st.slot = options_.slot;
  st.receive_ns = receive_ns;

  // Pushes {"arg":{…},"action":…,"data":[…]} and events {"event":…,"code":…,"msg":…}.
  // Records are only staged here: they reach the sink in finish(), once the whole document
  // is read.
  std::string_view channel_name, inst, action, event, code, msg;
  bool arg_seen = false, action_seen = false, data_seen = false, data_deferred = false;
  for (auto field : obj) {
    if (const auto e = field.error()) return result_of(w, {from_simdjson(e), "not JSON"});
    od::field& fl = field.value_unsafe();
    const od::raw_json_string key = fl.key();
    od::value& v = fl.value();
    if (key_is(key, "arg")) {
      if (arg_seen) return result_of(w, duplicate("arg"));
      if (const failure f = parse_arg(v, st, channel_name, inst)) return result_of(w, f);
      arg_seen = true;
    } else if (key_is(key, "action")) {
      if (action_seen) return result_of(w, duplicate("action"));
      action_seen = true;
      if (read_string(v, action) != parse_error::none) return result_of(w, {parse_error::wrong_type, "action"});
    } else if (key_is(key, "data")) {
      if (data_seen) return result_of(w, duplicate("data"));
      data_seen = true;
      // The channel (and for books the action) must be known before data can be read;
      // OKX sends them first, but JSON does not promise an order.
      if (!arg_seen || (has_action(st.channel_id) && !action_seen)) {
        data_deferred = true;
        continue;
      }
      if (const failure f = check_stream(st, channel_name, inst)) return result_of(w, f);
      if (const failure f = on_data(v, action, st, w)) return result_of(w, f);
    } else if (key_is(key, "event")) {
      if (!event.empty()) return result_of(w, duplicate("event"));
      if (read_string(v, event) != parse_error::none) return result_of(w, {parse_error::wrong_type, "event"});
    } else if (key_is(key, "code")) {
      code = code_text(v);
    } else if (key_is(key, "msg")) {
      (void)read_string(v, msg);
    }
  }
  // A truncated message ends the loop above early without an error: only here is it seen.
  if (!at_document_end(doc)) return result_of(w, {parse_error::not_json, "content after the JSON object"});

  if (!event.empty()) {
    if (data_seen) return result_of(w, {parse_error::unexpected_shape, "event with data"});
    if (event == "subscribe") return result_of(w, kOk, control_event::subscribed);
    // The first half of a resync (unsubscribe, then subscribe for a fresh snapshot).
    if (event == "unsubscribe") return result_of(w, kOk, control_event::unsubscribed);
    if (event == "error") {
      return result_of(w, {parse_error::venue_error, msg.empty() ? (code.empty() ? "error event" : code) : msg},
                       control_event::venue_error);
    }
    if (event == "notice" && code == kServiceUpgradeNotice) return result_of(w, kOk, control_event::going_away);
    return result_of(w, kOk);  // other notices, channel-conn-count: nothing to do
  }
  if (data_deferred) {
    if (!arg_seen) return result_of(w, {parse_error::missing_field, "arg"});
    if (const failure f = check_stream(st, channel_name, inst)) return result_of(w, f);
    doc.rewind();
    od::value data;
    if (const auto e = doc.find_field_unordered("data").get(data)) return result_of(w, {from_simdjson(e), "data"});
    return finish(w, on_data(data, action, st, w));
  }
  if (data_seen) return finish(w, kOk);
  if (arg_seen) return result_of(w, {parse_error::missing_field, "data"});
  return result_of(w, {parse_error::unexpected_shape, "not an OKX message"});
}

namespace {

/// An OKX v5 REST answer, {"code":"0","msg":"","data":[{…}, …]}: `element` for each object of
/// data, in order. A code other than "0" is the venue's refusal (its msg); no data is missing_field.
template <class Element>
parse_result parse_rest_data(od::parser& parser, std::size_t max_bytes, simdjson::padded_string_view body,
                             record_writer& w, Element&& element) noexcept {
  if (body.length() > max_bytes) return result_of(w, {parse_error::message_too_large, "body too large"});
  od::document doc;
  if (const auto e = parser.iterate(body).get(doc)) return result_of(w, {from_simdjson(e, parse_error::not_json), "not JSON"});
  od::object obj;
  if (const failure f = root_object(doc, obj)) return result_of(w, f);
  std::string_view code, msg;
  bool data_seen = false;
  const failure f = for_each_field(obj, [&](od::raw_json_string key, od::value& v) -> failure {
    if (key_is(key, "code")) {
      code = code_text(v);
    } else if (key_is(key, "msg")) {
      (void)read_string(v, msg);
    } else if (key_is(key, "data")) {
      if (data_seen) return duplicate("data");
      data_seen = true;
      if (!code.empty() && code != "0") return kOk;  // an error body: data is empty anyway
      od::array elements;
      if (const failure af = as_array(v, elements, "data: not an array")) return af;
      for (auto e : elements) {
        if (const auto err = e.error()) return {from_simdjson(err), "data: malformed"};
        od::object one;
        if (const failure ef = as_object(e.value_unsafe(), one, "data: element not an object")) return ef;
        if (const failure ef = element(one)) return ef;
      }
    }
    return kOk;
  });
  if (f) return result_of(w, f);
  if (!code.empty() && code != "0")
    return result_of(w, {parse_error::venue_error, msg.empty() ? code : msg}, control_event::venue_error);
  if (!data_seen) return result_of(w, {parse_error::missing_field, "data"});
  if (!at_document_end(doc)) return result_of(w, {parse_error::not_json, "content after the JSON object"});
  return result_of(w, w.commit());  // a good answer's records go to the sink
}

stream_stamp rest_stamp(const subscription& sub, slot_id slot, std::int64_t receive_ns) noexcept {
  stream_stamp st;
  st.venue_id = venue::okx;
  st.channel_id = sub.ch;
  st.slot = slot;
  st.receive_ns = receive_ns;
  st.set_symbol(sub.symbol);
  return st;
}

}  // namespace

parse_result okx_adapter::parse_snapshot(const subscription& sub, simdjson::padded_string_view body,
                                         std::int64_t receive_ns, record_sink& sink) noexcept {
  record_writer w(sink, stage_, levels_per_record_);
  levels_.clear();
  if (!has_action(sub.ch)) return result_of(w, {parse_error::unknown_stream, "REST snapshots are for books and books-l2-tbt"});
  const stream_stamp st = rest_stamp(sub, options_.slot, receive_ns);
  // data: [{"asks":[…],"bids":[…],"ts":"…","seqId":…}]
  return parse_rest_data(parser_, options_.max_message_bytes, body, w, [&](od::object& book) {
    return parse_book(book, record_type::book_snapshot, kHeaderFromRest, st, w, levels_);
  });
}

parse_result okx_adapter::parse_backfill(const subscription& sub, simdjson::padded_string_view body, std::uint64_t from,
                                         std::uint64_t to, std::int64_t receive_ns, record_sink& sink,
                                         backfill_page& page) noexcept {
  record_writer w(sink, stage_, levels_per_record_);
  page = {};
  if (!backfill_plan_for(sub.ch).available) return result_of(w, {parse_error::unknown_stream, "no trade history for this channel"});
  const stream_stamp st = rest_stamp(sub, options_.slot, receive_ns);
  // data: [{"instId","side","sz","px","source","tradeId","ts"}, …], newest first, one per fill.
  const parse_result r = parse_rest_data(parser_, options_.max_message_bytes, body, w, [&](od::object& row) -> failure {
    auto t = make_record<trade_record>();
    if (const failure f = read_trade(row, st, t)) return f;
    const std::uint64_t id = t.header.seq;
    if (page.rows > 0 && id >= page.first_id) return {parse_error::invalid_value, "tradeIds not decreasing"};
    if (page.rows == 0) page.last_id = id;
    page.first_id = id;
    ++page.rows;
    if (id < from || id > to) return kOk;
    t.trade_count = 1;  // one fill
    t.header.flags |= kHeaderBackfilled;
    if (const failure f = w.write(t)) return f;
    ++page.written;
    return kOk;
  });
  if (r.error != parse_error::none) page = {};
  return r;
}

/// The reference data of `symbols` from a "Get instruments" answer (2026-12): instType,
/// tickSz, lotSz, and for derivatives ctVal and ctValCcy ("Contract value", "Contract value
/// currency"; sizes are in contracts). A spot instrument's size is in its base currency: contract
/// value 1 of baseCcy. A value that is not a decimal is a problem (the answer is not used).
std::vector<instrument_record> reference_of(simdjson::dom::array listed, std::span<const std::string> symbols,
                                            std::vector<std::string>& problems) {
  std::vector<instrument_record> out;
  for (const auto& want : symbols) {
    const auto entry = listed_entry(listed, "instId", want);
    if (!entry) continue;
    const simdjson::dom::element e = *entry;
    auto r = reference_record(venue::okx, want);
    std::string_view inst_type, text;
    if (e["instType"].get(inst_type) != simdjson::SUCCESS) inst_type = {};
    r.kind = inst_type == "SPOT" ? instrument_kind::spot
             : inst_type == "SWAP" ? instrument_kind::perpetual
             : inst_type == "FUTURES" ? instrument_kind::future
             : inst_type == "OPTION" ? instrument_kind::option
                                     : instrument_kind::unknown;
    auto value = [&](const char* key, void (instrument_record::*set)(decimal) noexcept) {
      if (e[key].get(text) != simdjson::SUCCESS || text.empty()) return;
      decimal d{};
      if (parse_decimal(text, d) != parse_status::ok || d.mantissa <= 0) {
        problems.push_back("\"" + want + "\": instruments " + key + " \"" + std::string(text) + "\" is not a positive decimal");
        return;
      }
      (r.*set)(d);
    };
    value("tickSz", &instrument_record::set_tick_size);
    value("lotSz", &instrument_record::set_lot_size);
    if (r.kind == instrument_kind::spot) {
      r.set_contract_value({1, 0});
      if (e["baseCcy"].get(text) == simdjson::SUCCESS) (void)r.set_contract_currency(text);
    } else {
      value("ctVal", &instrument_record::set_contract_value);
      if (e["ctValCcy"].get(text) == simdjson::SUCCESS) (void)r.set_contract_currency(text);
    }
    out.push_back(r);
  }
  if (!problems.empty()) out.clear();
  return out;
}

instrument_check okx_adapter::check_instruments(int status, std::string_view body,
                                                std::span<const std::string> symbols) const {
  instrument_check out;
  // One instType per query (instruments_path): a set mixing spot and swaps is asked one by one.
  const std::string_view type = symbols.empty() ? std::string_view("SPOT") : venues::okx_inst_type(symbols.front());
  for (const auto& sym : symbols)
    if (venues::okx_inst_type(sym) != type) {
      out.result = instrument_check::outcome::ask_each;
      return out;
    }
  try {
    simdjson::dom::parser p;
    const simdjson::padded_string padded(body);
    simdjson::dom::element doc;
    std::string_view code;
    if (p.parse(padded).get(doc) != simdjson::SUCCESS) {
      out.problems.push_back("instruments answer is not JSON (HTTP " + std::to_string(status) + ")");
      return out;
    }
    if (status != 200 || doc["code"].get(code) != simdjson::SUCCESS || code != "0") {
      out.problems.push_back("instruments answered HTTP " + std::to_string(status) + " code " + std::string(code));
      return out;
    }
    simdjson::dom::array listed;
    if (doc["data"].get(listed) != simdjson::SUCCESS) {
      out.problems.push_back("instruments answer has no data array");
      return out;
    }
    check_listed(listed, symbols, {"OKX", type == "SWAP" ? "public/instruments SWAP" : "public/instruments SPOT", "instId", "state", "live"},
                 out.problems);
    if (out.problems.empty()) out.instruments = reference_of(listed, symbols, out.problems);
  } catch (const std::exception& e) {
    out.problems.assign(1, std::string("instruments: ") + e.what());
    return out;
  }
  out.result = out.problems.empty() ? instrument_check::outcome::ok : instrument_check::outcome::refused;
  if (!out.problems.empty()) out.instruments.clear();
  return out;
}

}  // namespace

namespace detail {
std::unique_ptr<venue_adapter> make_okx_adapter(const adapter_options& options) {
  return std::make_unique<okx_adapter>(options);
}
}  // namespace detail

}  // namespace mdbus::feed
