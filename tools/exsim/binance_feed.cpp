#include "tools/exsim/binance_feed.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "tools/exsim/decimal.hpp"
#include "tools/exsim/mark_model.hpp"

namespace mdbus::exsim {
namespace {

// Binance spot prints every price and quantity with 8 decimals ("61837.63000000"); USD-M
// prints the instrument's own precision ("61800.30", "0.006": the captures).
constexpr int kBinanceDecimals = 8;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool same_level(const book_level& a, const book_level& b) { return a.price == b.price && a.qty == b.qty; }

}  // namespace

binance_feed::binance_feed(const exsim_config& cfg, const binance_config& bc, stream_registry& streams, event_sink& sink)
    : cfg_(cfg), bc_(bc), venue_(bc.futures ? venue::binance_usdm : venue::binance), sink_(sink) {
  const std::string tag = bc.futures ? "usdm-" : "binance-";
  symbols_.reserve(bc.instruments.size());
  for (std::size_t i = 0; i < bc.instruments.size(); ++i) {
    const auto& inst = bc.instruments[i];
    // Spot keeps its seeds as they were (existing truth logs replay the same market).
    auto& s = symbols_.emplace_back(book_sim(inst, bc.futures ? rng::derive(cfg.seed, "usdm-market:" + inst.symbol) : cfg.seed),
                                    rng::derive(cfg.seed, tag + "skips:" + inst.symbol));
    s.lower = lower(inst.symbol);
    s.trades = trade_history(cfg.trade_history);
    s.aggs = trade_history(cfg.trade_history);
    rng ids(rng::derive(cfg.seed, tag + "ids:" + inst.symbol));
    s.update_id = ids.between(1'000'000'000, 9'000'000'000);
    s.trade_id = ids.between(100'000'000, 900'000'000);
    s.agg_id = ids.between(10'000'000, 90'000'000);
    // USD-M routes (change log 2026-04-23): depth and bookTicker on /public, trades on /market.
    auto add = [&](const std::string& suffix, channel c, std::uint8_t levels, bool fast, const char* route) {
      stream_info si;
      si.venue_id = venue_;
      si.route = bc.futures ? route : "";
      si.channel_id = c;
      si.depth_levels = levels;
      si.fast = fast;
      si.instrument = i;
      si.symbol = inst.symbol;
      si.name = s.lower + "@" + suffix;
      return streams.add(si);
    };
    const bool f = bc.futures;
    s.trade_stream = add("trade", f ? channel::usdm_trade : channel::binance_trade, 0, false, "/market");
    s.agg_stream = add("aggTrade", f ? channel::usdm_agg_trade : channel::binance_agg_trade, 0, false, "/market");
    s.ticker_stream = add("bookTicker", f ? channel::usdm_book_ticker : channel::binance_book_ticker, 0, false, "/public");
    const channel depth = f ? channel::usdm_depth : channel::binance_depth;
    const channel partial = f ? channel::usdm_depth_partial : channel::binance_depth_partial;
    s.slow.stream = add("depth", depth, 0, false, "/public");
    s.slow.interval_ms = bc.depth_interval_ms;
    s.fast.stream = add("depth@100ms", depth, 0, true, "/public");
    s.fast.interval_ms = bc.depth_fast_interval_ms;
    if (f) {
      s.mid.stream = add("depth@500ms", depth, 0, false, "/public");
      s.mid.interval_ms = bc.depth_mid_interval_ms;
      s.now.stream = add("depth@0ms", depth, 0, true, "/public");
      s.now.interval_ms = 0;  // flushed after every change (step)
    }
    // Spot: @depthN (1000 ms), @depthN@100ms. USD-M: @depthN (250 ms), @depthN@500ms, @depthN@100ms.
    const std::vector<std::pair<std::string, std::int64_t>> speeds =
        f ? std::vector<std::pair<std::string, std::int64_t>>{{"", bc.depth_interval_ms},
                                                              {"@500ms", bc.depth_mid_interval_ms},
                                                              {"@100ms", bc.depth_fast_interval_ms}}
          : std::vector<std::pair<std::string, std::int64_t>>{{"", bc.depth_interval_ms}, {"@100ms", bc.depth_fast_interval_ms}};
    for (const int levels : {5, 10, 20})
      for (const auto& [speed, interval] : speeds) {
        partial_stream p;
        p.levels = levels;
        p.interval_ms = interval;
        p.stream = add("depth" + std::to_string(levels) + speed, partial, static_cast<std::uint8_t>(levels),
                       speed == "@100ms", "/public");
        s.partials.push_back(p);
      }
    if (f) {  // "Mark Price Stream": <symbol>@markPrice (3000 ms) or @markPrice@1s, on /market
      s.marks.push_back({add("markPrice", channel::usdm_mark_price, 0, false, "/market"), bc.mark_interval_ms, 0});
      s.marks.push_back({add("markPrice@1s", channel::usdm_mark_price, 0, true, "/market"), bc.mark_fast_interval_ms, 0});
    }
    s.sent_bid = s.sim.book().best(side::bid).value_or(book_level{});
    s.sent_ask = s.sim.book().best(side::ask).value_or(book_level{});
  }
}

void binance_feed::px(std::string& out, const symbol_state& s, std::int64_t price) const {
  const int scale = s.sim.instrument().price_scale;
  append_decimal(out, price, scale, bc_.futures ? scale : kBinanceDecimals);
}

void binance_feed::qty(std::string& out, const symbol_state& s, std::int64_t lots) const {
  const int scale = s.sim.instrument().qty_scale;
  append_decimal(out, lots, scale, bc_.futures ? scale : kBinanceDecimals);
}

std::vector<binance_feed::depth_window*> binance_feed::windows(symbol_state& s) const {
  if (bc_.futures) return {&s.slow, &s.mid, &s.fast, &s.now};
  return {&s.slow, &s.fast};
}

void binance_feed::step(std::size_t i, std::int64_t now_ms) {
  auto& s = symbols_[i];
  s.sim.step(action_);
  if (action_.has_trade) publish_trades(s, action_, now_ms);
  // Every level change takes one update id; the diff windows keep each level's last qty. On
  // USD-M the id space is shared by every symbol (and other books), so between two changes of
  // this one it moves by 1..4: U != previous u + 1, and only pu chains.
  const std::vector<depth_window*> ws = windows(s);
  for (std::size_t k = 0; k < action_.change_count; ++k) {
    const auto& [sd, lvl] = action_.changes[k];
    s.update_id += bc_.futures ? s.ids.between(1, 4) : 1;
    for (auto* w : ws) {
      if (w->first_u == 0) w->first_u = s.update_id;
      if (sd == side::bid)
        w->bids[lvl.price] = lvl.qty;
      else
        w->asks[lvl.price] = lvl.qty;
    }
  }
  if (action_.change_count == 0) return;
  if (bc_.futures && s.now.first_u != 0) flush_window(s, s.now, now_ms);  // @0ms: every change
  const auto bid = s.sim.book().best(side::bid).value_or(book_level{});
  const auto ask = s.sim.book().best(side::ask).value_or(book_level{});
  if (same_level(bid, s.sent_bid) && same_level(ask, s.sent_ask)) return;
  s.sent_bid = bid;
  s.sent_ask = ask;
  // Spot {"u":..,"s":"..","b":"..","B":"..","a":"..","A":".."} — no e, no E. USD-M
  // {"e":"bookTicker","u":..,"s":..,"b":..,"B":..,"a":..,"A":..,"T":..,"E":..} (the captures' order).
  auto& b = buf_;
  b.assign(bc_.futures ? "{\"e\":\"bookTicker\",\"u\":" : "{\"u\":");
  append_int(b, s.update_id);
  b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"b\":\"");
  px(b, s, bid.price);
  b.append("\",\"B\":\"");
  qty(b, s, bid.qty);
  b.append("\",\"a\":\"");
  px(b, s, ask.price);
  b.append("\",\"A\":\"");
  qty(b, s, ask.qty);
  b.push_back('"');
  if (bc_.futures) {
    b.append(",\"T\":");
    append_int(b, now_ms);
    b.append(",\"E\":");
    append_int(b, now_ms);
  }
  b.push_back('}');
  sink_.publish(s.ticker_stream, b, {s.update_id, s.update_id, -1, bc_.futures ? now_ms : 0, 0});
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
    // USD-M: X, the trade type ("MARKET" in the captures); no M.
    b.append(",\"m\":").append(maker).append(bc_.futures ? ",\"X\":\"MARKET\"}" : ",\"M\":true}");
    sink_.publish(s.trade_stream, b, {s.trade_id, s.trade_id, -1, now_ms, 0});
    s.trades.push({s.trade_id, a.trade_price, a.fill_qty[f], now_ms, a.taker == side::ask, 0, 0});
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
  b.push_back('"');
  if (bc_.futures) {  // nq: the quantity without RPI-order trades (all of it here)
    b.append(",\"nq\":\"");
    qty(b, s, a.trade_qty);
    b.push_back('"');
  }
  b.append(",\"f\":");
  append_int(b, first);
  b.append(",\"l\":");
  append_int(b, s.trade_id);
  b.append(",\"T\":");
  append_int(b, now_ms);
  b.append(",\"m\":").append(maker).append(bc_.futures ? "}" : ",\"M\":true}");
  sink_.publish(s.agg_stream, b, {s.agg_id, s.agg_id, first, now_ms, 0});
  s.aggs.push({s.agg_id, a.trade_price, a.trade_qty, now_ms, a.taker == side::ask, first, s.trade_id});
}

void binance_feed::on_timer(std::int64_t now_ms) {
  for (auto& s : symbols_) {
    for (auto* w : windows(s))
      if (w->interval_ms > 0 && now_ms >= w->next_ms) {
        w->next_ms = now_ms + w->interval_ms;
        if (w->first_u != 0) flush_window(s, *w, now_ms);
      }
    for (auto& m : s.marks)
      if (now_ms >= m.next_ms) {
        m.next_ms = now_ms + m.interval_ms;
        publish_mark(s, m, now_ms);
      }
    for (auto& p : s.partials)
      if (now_ms >= p.next_ms) {
        p.next_ms = now_ms + p.interval_ms;
        if (p.sent_update_id != s.update_id) publish_partial(s, p, now_ms);
      }
  }
}

void binance_feed::flush_window(symbol_state& s, depth_window& w, std::int64_t now_ms) {
  auto& b = buf_;
  b.assign("{\"e\":\"depthUpdate\",\"E\":");
  append_int(b, now_ms);
  if (bc_.futures) {
    b.append(",\"T\":");
    append_int(b, now_ms);
  }
  b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"U\":");
  append_int(b, w.first_u);
  b.append(",\"u\":");
  append_int(b, s.update_id);
  if (bc_.futures) {  // pu: this stream's previous u (the first event names the id before its U)
    b.append(",\"pu\":");
    append_int(b, w.last_u != 0 ? w.last_u : w.first_u - 1);
  }
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
  const std::int64_t pu = w.last_u != 0 ? w.last_u : w.first_u - 1;
  sink_.publish(w.stream, b, {w.first_u, s.update_id, bc_.futures ? pu : -1, now_ms, 0});
  w.last_u = s.update_id;
  w.first_u = 0;
  w.bids.clear();
  w.asks.clear();
}

void binance_feed::publish_partial(symbol_state& s, partial_stream& p, std::int64_t now_ms) {
  auto& b = buf_;
  const std::int64_t pu = p.last_u != 0 ? p.last_u : s.update_id - 1;
  if (bc_.futures) {
    // USD-M partial depth: a depthUpdate event with U, u, pu and the top levels as b/a.
    b.assign("{\"e\":\"depthUpdate\",\"E\":");
    append_int(b, now_ms);
    b.append(",\"T\":");
    append_int(b, now_ms);
    b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"U\":");
    append_int(b, pu + 1);
    b.append(",\"u\":");
    append_int(b, s.update_id);
    b.append(",\"pu\":");
    append_int(b, pu);
  } else {
    b.assign("{\"lastUpdateId\":");
    append_int(b, s.update_id);
  }
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
  b.append(bc_.futures ? ",\"b\":" : ",\"bids\":");
  levels(side::bid);
  b.append(bc_.futures ? ",\"a\":" : ",\"asks\":");
  levels(side::ask);
  b.push_back('}');
  p.sent_update_id = s.update_id;
  p.last_u = s.update_id;
  // Spot partial depth carries no event time; the truth entry records 0.
  sink_.publish(p.stream, b, {s.update_id, s.update_id, -1, bc_.futures ? now_ms : 0, kTruthSnapshot});
}

void binance_feed::publish_mark(symbol_state& s, const mark_stream& m, std::int64_t now_ms) {
  // {"e":"markPriceUpdate","E":…,"s":…,"p":mark,"i":index,"P":estimated settle,"r":rate,"T":next funding}
  // (USD-M "Mark Price Stream", 2026-12: prices and the rate with 8 decimals).
  const mark_values v = mark_of(s.sim.book(), now_ms);
  const int scale = s.sim.instrument().price_scale;
  auto& b = buf_;
  b.assign("{\"e\":\"markPriceUpdate\",\"E\":");
  append_int(b, now_ms);
  b.append(",\"s\":\"").append(s.sim.instrument().symbol).append("\",\"p\":\"");
  append_decimal(b, v.mark, scale, kBinanceDecimals);
  b.append("\",\"i\":\"");
  append_decimal(b, v.index, scale, kBinanceDecimals);
  b.append("\",\"P\":\"");
  append_decimal(b, v.index, scale, kBinanceDecimals);
  b.append("\",\"r\":\"");
  append_decimal(b, v.funding_rate_e8, 8, kBinanceDecimals);
  b.append("\",\"T\":");
  append_int(b, v.funding_time_ms);
  b.push_back('}');
  sink_.publish(m.stream, b, {now_ms, now_ms, -1, now_ms, 0});  // no id: the event time orders the pushes
}

const binance_feed::symbol_state* binance_feed::find(std::string_view symbol) const {
  for (const auto& st : symbols_)
    if (st.sim.instrument().symbol == symbol) return &st;
  return nullptr;
}

std::string binance_feed::rest_depth(std::string_view symbol, std::string_view limit_text, std::int64_t now_ms,
                                     int& http_status) const {
  const symbol_state* s = find(symbol);
  if (s == nullptr) {
    http_status = 400;
    return R"({"code":-1121,"msg":"Invalid symbol."})";
  }
  int limit = bc_.futures ? 500 : 100;  // the venues' defaults
  if (!limit_text.empty()) {
    const auto r = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
    if (r.ec != std::errc{} || r.ptr != limit_text.data() + limit_text.size() || limit <= 0) {
      http_status = 400;
      return R"({"code":-1100,"msg":"Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."})";
    }
    limit = std::min(limit, 5000);
  }
  // USD-M "Order Book" (2026-12): limit is one of 5, 10, 20, 50, 100, 500, 1000.
  if (bc_.futures && limit != 5 && limit != 10 && limit != 20 && limit != 50 && limit != 100 && limit != 500 && limit != 1000) {
    http_status = 400;
    return R"({"code":-1130,"msg":"Data sent for parameter 'limit' is not valid."})";
  }
  std::string b = "{\"lastUpdateId\":";
  append_int(b, s->update_id);
  if (bc_.futures) {  // USD-M answers carry E and T
    b.append(",\"E\":");
    append_int(b, now_ms);
    b.append(",\"T\":");
    append_int(b, now_ms);
  }
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
