#include "tools/exsim/binance_feed.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "tools/exsim/decimal.hpp"

namespace mdbus::exsim {
namespace {

// Binance prints every price and quantity with 8 decimals ("61837.63000000").
constexpr int kBinanceDecimals = 8;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void append_int(std::string& out, std::int64_t v) {
  char b[24];
  const auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

bool same_level(const book_level& a, const book_level& b) { return a.price == b.price && a.qty == b.qty; }

}  // namespace

binance_feed::binance_feed(const exsim_config& cfg, stream_registry& streams, event_sink& sink)
    : cfg_(cfg), sink_(sink) {
  symbols_.reserve(cfg.binance.instruments.size());
  for (std::size_t i = 0; i < cfg.binance.instruments.size(); ++i) {
    const auto& inst = cfg.binance.instruments[i];
    auto& s = symbols_.emplace_back(book_sim(inst, cfg.seed));
    s.lower = lower(inst.symbol);
    rng ids(rng::derive(cfg.seed, "binance-ids:" + inst.symbol));
    s.update_id = ids.between(1'000'000'000, 9'000'000'000);
    s.trade_id = ids.between(100'000'000, 900'000'000);
    s.agg_id = ids.between(10'000'000, 90'000'000);
    auto add = [&](const std::string& suffix, channel c, std::uint8_t levels, bool fast) {
      stream_info si;
      si.venue_id = venue::binance;
      si.channel_id = c;
      si.depth_levels = levels;
      si.fast = fast;
      si.instrument = i;
      si.symbol = inst.symbol;
      si.name = s.lower + "@" + suffix;
      return streams.add(si);
    };
    s.trade_stream = add("trade", channel::binance_trade, 0, false);
    s.agg_stream = add("aggTrade", channel::binance_agg_trade, 0, false);
    s.ticker_stream = add("bookTicker", channel::binance_book_ticker, 0, false);
    s.slow.stream = add("depth", channel::binance_depth, 0, false);
    s.slow.interval_ms = cfg.binance.depth_interval_ms;
    s.fast.stream = add("depth@100ms", channel::binance_depth, 0, true);
    s.fast.interval_ms = cfg.binance.depth_fast_interval_ms;
    for (const int levels : {5, 10, 20})
      for (const bool fast : {false, true}) {
        partial_stream p;
        p.levels = levels;
        p.interval_ms = fast ? cfg.binance.depth_fast_interval_ms : cfg.binance.depth_interval_ms;
        p.stream = add("depth" + std::to_string(levels) + (fast ? "@100ms" : ""), channel::binance_depth_partial,
                       static_cast<std::uint8_t>(levels), fast);
        s.partials.push_back(p);
      }
    s.sent_bid = s.sim.book().best(side::bid).value_or(book_level{});
    s.sent_ask = s.sim.book().best(side::ask).value_or(book_level{});
  }
}

void binance_feed::px(std::string& out, const symbol_state& s, std::int64_t price) const {
  append_decimal(out, price, s.sim.instrument().price_scale, kBinanceDecimals);
}

void binance_feed::qty(std::string& out, const symbol_state& s, std::int64_t lots) const {
  append_decimal(out, lots, s.sim.instrument().qty_scale, kBinanceDecimals);
}

void binance_feed::step(std::size_t i, std::int64_t now_ms) {
  auto& s = symbols_[i];
  s.sim.step(action_);
  if (action_.has_trade) publish_trades(s, action_, now_ms);
  // Every level change takes one update id; the diff windows keep each level's last qty.
  for (std::size_t k = 0; k < action_.change_count; ++k) {
    const auto& [sd, lvl] = action_.changes[k];
    ++s.update_id;
    for (auto* w : {&s.slow, &s.fast}) {
      if (w->first_u == 0) w->first_u = s.update_id;
      if (sd == side::bid)
        w->bids[lvl.price] = lvl.qty;
      else
        w->asks[lvl.price] = lvl.qty;
    }
  }
  if (action_.change_count == 0) return;
  const auto bid = s.sim.book().best(side::bid).value_or(book_level{});
  const auto ask = s.sim.book().best(side::ask).value_or(book_level{});
  if (same_level(bid, s.sent_bid) && same_level(ask, s.sent_ask)) return;
  s.sent_bid = bid;
  s.sent_ask = ask;
  // {"u":..,"s":"..","b":"..","B":"..","a":"..","A":".."} — no e, no E.
  auto& b = buf_;
  b.assign("{\"u\":");
  append_int(b, s.update_id);
  b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"b\":\"");
  px(b, s, bid.price);
  b.append("\",\"B\":\"");
  qty(b, s, bid.qty);
  b.append("\",\"a\":\"");
  px(b, s, ask.price);
  b.append("\",\"A\":\"");
  qty(b, s, ask.qty);
  b.append("\"}");
  sink_.publish(s.ticker_stream, b, {s.update_id, s.update_id, -1, now_ms, 0});
}

void binance_feed::publish_trades(symbol_state& s, const market_action& a, std::int64_t now_ms) {
  // m: "is the buyer the market maker" — true when the taker sold.
  const char* const maker = a.taker == side::ask ? "true" : "false";
  const std::int64_t first = s.trade_id + 1;
  auto& b = buf_;
  for (std::size_t f = 0; f < a.fills; ++f) {
    ++s.trade_id;
    b.assign("{\"e\":\"trade\",\"E\":");
    append_int(b, now_ms);
    b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"t\":");
    append_int(b, s.trade_id);
    b.append(",\"p\":\"");
    px(b, s, a.trade_price);
    b.append("\",\"q\":\"");
    qty(b, s, a.fill_qty[f]);
    b.append("\",\"T\":");
    append_int(b, now_ms);
    b.append(",\"m\":").append(maker).append(",\"M\":true}");
    sink_.publish(s.trade_stream, b, {s.trade_id, s.trade_id, -1, now_ms, 0});
  }
  ++s.agg_id;
  b.assign("{\"e\":\"aggTrade\",\"E\":");
  append_int(b, now_ms);
  b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"a\":");
  append_int(b, s.agg_id);
  b.append(",\"p\":\"");
  px(b, s, a.trade_price);
  b.append("\",\"q\":\"");
  qty(b, s, a.trade_qty);
  b.append("\",\"f\":");
  append_int(b, first);
  b.append(",\"l\":");
  append_int(b, s.trade_id);
  b.append(",\"T\":");
  append_int(b, now_ms);
  b.append(",\"m\":").append(maker).append(",\"M\":true}");
  sink_.publish(s.agg_stream, b, {s.agg_id, s.agg_id, first, now_ms, 0});
}

void binance_feed::on_timer(std::int64_t now_ms) {
  for (auto& s : symbols_) {
    for (auto* w : {&s.slow, &s.fast})
      if (now_ms >= w->next_ms) {
        w->next_ms = now_ms + w->interval_ms;
        if (w->first_u != 0) flush_window(s, *w, now_ms);
      }
    for (auto& p : s.partials)
      if (now_ms >= p.next_ms) {
        p.next_ms = now_ms + p.interval_ms;
        if (p.sent_update_id != s.update_id) publish_partial(s, p);
      }
  }
}

void binance_feed::flush_window(symbol_state& s, depth_window& w, std::int64_t now_ms) {
  auto& b = buf_;
  b.assign("{\"e\":\"depthUpdate\",\"E\":");
  append_int(b, now_ms);
  b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"U\":");
  append_int(b, w.first_u);
  b.append(",\"u\":");
  append_int(b, s.update_id);
  auto levels = [&](const auto& m) {
    b.push_back('[');
    bool first = true;
    for (const auto& [price, lots] : m) {
      if (!first) b.push_back(',');
      first = false;
      b.append("[\"");
      px(b, s, price);
      b.append("\",\"");
      qty(b, s, lots);
      b.append("\"]");
    }
    b.push_back(']');
  };
  b.append(",\"b\":");
  levels(w.bids);
  b.append(",\"a\":");
  levels(w.asks);
  b.push_back('}');
  sink_.publish(w.stream, b, {w.first_u, s.update_id, -1, now_ms, 0});
  w.first_u = 0;
  w.bids.clear();
  w.asks.clear();
}

void binance_feed::publish_partial(symbol_state& s, partial_stream& p) {
  auto& b = buf_;
  b.assign("{\"lastUpdateId\":");
  append_int(b, s.update_id);
  auto levels = [&](side sd) {
    b.push_back('[');
    bool first = true;
    s.sim.book().for_top(sd, static_cast<std::size_t>(p.levels), [&](const book_level& l) {
      if (!first) b.push_back(',');
      first = false;
      b.append("[\"");
      px(b, s, l.price);
      b.append("\",\"");
      qty(b, s, l.qty);
      b.append("\"]");
    });
    b.push_back(']');
  };
  b.append(",\"bids\":");
  levels(side::bid);
  b.append(",\"asks\":");
  levels(side::ask);
  b.push_back('}');
  p.sent_update_id = s.update_id;
  // Partial depth carries no event time; the truth entry records 0.
  sink_.publish(p.stream, b, {s.update_id, s.update_id, -1, 0, kTruthSnapshot});
}

std::string binance_feed::rest_depth(std::string_view symbol, std::string_view limit_text, int& http_status) const {
  const symbol_state* s = nullptr;
  for (const auto& st : symbols_)
    if (st.sim.instrument().symbol == symbol) s = &st;
  if (s == nullptr) {
    http_status = 400;
    return R"({"code":-1121,"msg":"Invalid symbol."})";
  }
  int limit = 100;  // Binance default
  if (!limit_text.empty()) {
    const auto r = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
    if (r.ec != std::errc{} || r.ptr != limit_text.data() + limit_text.size() || limit <= 0) {
      http_status = 400;
      return R"({"code":-1100,"msg":"Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."})";
    }
    limit = std::min(limit, 5000);
  }
  std::string b = "{\"lastUpdateId\":";
  append_int(b, s->update_id);
  auto levels = [&](side sd) {
    b.push_back('[');
    bool first = true;
    s->sim.book().for_top(sd, static_cast<std::size_t>(limit), [&](const book_level& l) {
      if (!first) b.push_back(',');
      first = false;
      b.append("[\"");
      px(b, *s, l.price);
      b.append("\",\"");
      qty(b, *s, l.qty);
      b.append("\"]");
    });
    b.push_back(']');
  };
  b.append(",\"bids\":");
  levels(side::bid);
  b.append(",\"asks\":");
  levels(side::ask);
  b.push_back('}');
  http_status = 200;
  return b;
}

}  // namespace mdbus::exsim
