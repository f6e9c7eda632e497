#include "tools/exsim/okx_feed.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "mdbus/okx_checksum.hpp"
#include "tools/exsim/decimal.hpp"
#include "tools/exsim/mark_model.hpp"

namespace mdbus::exsim {
namespace {

constexpr std::size_t kBookLevels = 400;  // books and books-l2-tbt snapshots

}  // namespace

okx_feed::okx_feed(const exsim_config& cfg, stream_registry& streams, event_sink& sink) : cfg_(cfg), sink_(sink) {
  insts_.reserve(cfg.okx.instruments.size());
  for (std::size_t i = 0; i < cfg.okx.instruments.size(); ++i) {
    const auto& inst = cfg.okx.instruments[i];
    auto& s = insts_.emplace_back(book_sim(inst, cfg.seed));
    rng ids(rng::derive(cfg.seed, "okx-ids:" + inst.symbol));
    s.seq = ids.between(1'000'000'000, 9'000'000'000);
    s.trade_id = ids.between(100'000'000, 900'000'000);
    s.fills = trade_history(cfg.trade_history);
    s.l2_sent_seq = s.books_sent_seq = s.seq;
    auto add = [&](channel c, std::uint8_t levels) {
      stream_info si;
      si.venue_id = venue::okx;
      si.channel_id = c;
      si.depth_levels = levels;
      si.instrument = i;
      si.symbol = inst.symbol;
      si.name = std::string(to_string(c)) + ":" + inst.symbol;
      return streams.add(si);
    };
    s.trades_stream = add(channel::okx_trades, 0);
    s.tickers_stream = add(channel::okx_tickers, 0);
    s.bbo_stream = add(channel::okx_bbo_tbt, 1);
    s.books_stream = add(channel::okx_books, 0);
    s.books5_stream = add(channel::okx_books5, 5);
    s.l2_stream = add(channel::okx_books_l2_tbt, 0);
    s.mark_stream = add(channel::okx_mark_price, 0);
    s.swap = inst.symbol.ends_with("-SWAP");
    if (s.swap) s.funding_stream = add(channel::okx_funding_rate, 0);  // "Funding rate channel": SWAP only
    s.sent_bid = s.sim.book().best(side::bid).value_or(book_level{});
    s.sent_ask = s.sim.book().best(side::ask).value_or(book_level{});
    s.last_px = s.open = s.high = s.low = inst.start_price;
    s.last_sz = 1;
  }
}

void okx_feed::arg(std::string& b, const char* channel, const inst_state& s) const {
  b.append("{\"arg\":{\"channel\":\"").append(channel).append("\",\"instId\":\"").append(s.sim.instrument().symbol).append("\"}");
}

// A level is ["px","sz","0","numOrders"] (the "0" is a deprecated liquidated-orders field).
void okx_feed::level(std::string& b, const inst_state& s, const book_level& l) const {
  b.append("[\"");
  append_decimal(b, l.price, s.sim.instrument().price_scale, 0);
  b.append("\",\"");
  append_decimal(b, l.qty, s.sim.instrument().qty_scale, 0);
  b.append("\",\"0\",\"");
  append_int(b, l.orders);
  b.append("\"]");
}

void okx_feed::top_levels(std::string& b, const inst_state& s, side sd, std::size_t n) const {
  b.push_back('[');
  bool first = true;
  s.sim.book().for_top(sd, n, [&](const book_level& l) {
    if (!first) b.push_back(',');
    first = false;
    level(b, s, l);
  });
  b.push_back(']');
}

std::int32_t okx_feed::checksum_of(const inst_state& s) const {
  // OKX deprecation notice of 2026-05-21 (checked 2026-12): production sends checksum 0 since
  // 2026-06-23; --okx-checksum sends the real CRC, as before.
  if (!cfg_.okx.checksum) return 0;
  // The order and separators are bus/include/mdbus/okx_checksum.hpp's (OKX "Checksum" section); the text
  // of each level is exactly what this feed prints for it.
  const auto& inst = s.sim.instrument();
  std::array<book_level, kOkxChecksumLevels> bids{}, asks{};
  std::size_t nb = 0, na = 0;
  s.sim.book().for_top(side::bid, kOkxChecksumLevels, [&](const book_level& l) { bids[nb++] = l; });
  s.sim.book().for_top(side::ask, kOkxChecksumLevels, [&](const book_level& l) { asks[na++] = l; });
  okx_checksum_builder<crc32_state> crc;
  std::string px, qty;  // reused for every level
  okx_checksum_walk(nb, na, [&](bool is_bid, std::size_t i) {
    const book_level& l = is_bid ? bids[i] : asks[i];
    px.clear();
    append_decimal(px, l.price, inst.price_scale, 0);
    qty.clear();
    append_decimal(qty, l.qty, inst.qty_scale, 0);
    crc.add(px, qty);
  });
  return crc.value();
}

std::int32_t okx_feed::checksum(std::size_t i) const { return checksum_of(insts_.at(i)); }

void okx_feed::step(std::size_t i, std::int64_t now_ms) {
  auto& s = insts_[i];
  s.sim.step(action_);
  if (action_.change_count > 0) s.seq += static_cast<std::int64_t>(action_.change_count);
  if (action_.has_trade) publish_trade(s, action_, now_ms);
  if (action_.change_count == 0) return;
  for (std::size_t k = 0; k < action_.change_count; ++k) {
    const auto& [sd, lvl] = action_.changes[k];
    if (sd == side::bid)
      s.pending_bids[lvl.price] = lvl;
    else
      s.pending_asks[lvl.price] = lvl;
  }
  s.books_last_ms = now_ms;
  s.ticker_dirty = true;
  publish_l2(s, action_, now_ms);
  publish_bbo(s, now_ms);
}

void okx_feed::publish_trade(inst_state& s, const market_action& a, std::int64_t now_ms) {
  // One message per taker order and price; tradeId is the last fill of the aggregation, so
  // ids step by `count` and are not consecutive across messages.
  // The fills behind the message, one trade each (what OKX's REST trade history lists).
  for (std::size_t f = 0; f < a.fills; ++f)
    s.fills.push({s.trade_id + 1 + static_cast<std::int64_t>(f), a.trade_price, a.fill_qty[f], now_ms, a.taker == side::ask, 0, 0});
  s.trade_id += static_cast<std::int64_t>(a.fills);
  s.last_px = a.trade_price;
  s.last_sz = a.trade_qty;
  s.high = std::max(s.high, a.trade_price);
  s.low = std::min(s.low, a.trade_price);
  s.vol += a.trade_qty;
  std::int64_t unit = 1;  // volCcy24h in quote units, to lot precision (price truncated to whole units)
  for (int k = 0; k < s.sim.instrument().price_scale; ++k) unit *= 10;
  s.vol_ccy += a.trade_qty * (a.trade_price / unit);
  s.ticker_dirty = true;
  auto& b = buf_;
  b.clear();
  arg(b, "trades", s);
  b.append(",\"data\":[{\"instId\":\"").append(s.sim.instrument().symbol).append("\",\"tradeId\":");
  append_quoted_int(b, s.trade_id);
  b.append(",\"px\":\"");
  append_decimal(b, a.trade_price, s.sim.instrument().price_scale, 0);
  b.append("\",\"sz\":\"");
  append_decimal(b, a.trade_qty, s.sim.instrument().qty_scale, 0);
  b.append("\",\"side\":\"").append(a.taker == side::bid ? "buy" : "sell").append("\",\"ts\":");
  append_quoted_int(b, now_ms);
  b.append(",\"count\":");
  append_quoted_int(b, static_cast<std::int64_t>(a.fills));
  b.append(",\"source\":\"0\",\"seqId\":");
  append_int(b, s.seq);
  b.append("}]}");
  sink_.publish(s.trades_stream, b, {s.trade_id, s.trade_id, -1, now_ms, 0});
}

void okx_feed::publish_l2(inst_state& s, const market_action& a, std::int64_t now_ms) {
  auto& b = buf_;
  b.clear();
  arg(b, "books-l2-tbt", s);
  b.append(",\"action\":\"update\",\"data\":[{\"asks\":[");
  bool first = true;
  for (std::size_t k = 0; k < a.change_count; ++k)
    if (a.changes[k].first == side::ask) {
      if (!first) b.push_back(',');
      first = false;
      level(b, s, a.changes[k].second);
    }
  b.append("],\"bids\":[");
  first = true;
  for (std::size_t k = 0; k < a.change_count; ++k)
    if (a.changes[k].first == side::bid) {
      if (!first) b.push_back(',');
      first = false;
      level(b, s, a.changes[k].second);
    }
  b.append("],\"ts\":");
  append_quoted_int(b, now_ms);
  b.append(",\"checksum\":");
  append_int(b, checksum_of(s));
  b.append(",\"prevSeqId\":");
  append_int(b, s.l2_sent_seq);
  b.append(",\"seqId\":");
  append_int(b, s.seq);
  b.append("}]}");
  sink_.publish(s.l2_stream, b, {s.seq, s.seq, s.l2_sent_seq, now_ms, 0});
  s.l2_sent_seq = s.seq;
}

void okx_feed::publish_bbo(inst_state& s, std::int64_t now_ms) {
  const auto bid = s.sim.book().best(side::bid).value_or(book_level{});
  const auto ask = s.sim.book().best(side::ask).value_or(book_level{});
  if (bid.price == s.sent_bid.price && bid.qty == s.sent_bid.qty && ask.price == s.sent_ask.price &&
      ask.qty == s.sent_ask.qty)
    return;
  s.sent_bid = bid;
  s.sent_ask = ask;
  auto& b = buf_;
  b.clear();
  arg(b, "bbo-tbt", s);
  b.append(",\"data\":[{\"asks\":[");
  level(b, s, ask);
  b.append("],\"bids\":[");
  level(b, s, bid);
  b.append("],\"ts\":");
  append_quoted_int(b, now_ms);
  b.append(",\"seqId\":");
  append_int(b, s.seq);
  b.append("}]}");
  sink_.publish(s.bbo_stream, b, {s.seq, s.seq, -1, now_ms, 0});
}

void okx_feed::on_timer(std::int64_t now_ms) {
  for (auto& s : insts_) {
    if (s.books_last_ms == 0) s.books_last_ms = now_ms;  // the heartbeat clock starts with the server
    if (now_ms >= s.books_next_ms) {
      s.books_next_ms = now_ms + cfg_.okx.books_interval_ms;
      if (s.books_sent_seq != s.seq) {
        flush_books(s, now_ms, false);
      } else if (cfg_.okx.book_heartbeat_ms > 0 && now_ms - s.books_last_ms >= cfg_.okx.book_heartbeat_ms) {
        flush_books(s, now_ms, true);  // "no change for ~60 s" heartbeat: prevSeqId == seqId
        s.books_last_ms = now_ms;
      }
      if (s.books5_sent_seq != s.seq) publish_books5(s, now_ms);
    }
    if (now_ms >= s.tickers_next_ms) {
      s.tickers_next_ms = now_ms + cfg_.okx.tickers_interval_ms;
      if (s.ticker_dirty) publish_ticker(s, now_ms);
    }
    // "Mark price channel": every 200 ms when the mark price changed, every 10 s otherwise.
    if (now_ms >= s.mark_next_ms) {
      s.mark_next_ms = now_ms + cfg_.okx.mark_interval_ms;
      const std::int64_t mark = mark_of(s.sim.book(), now_ms).mark;
      if (mark != s.mark_sent || now_ms - s.mark_sent_ms >= cfg_.okx.mark_idle_interval_ms) publish_mark(s, mark, now_ms);
    }
    if (s.swap && now_ms >= s.funding_next_ms) {
      s.funding_next_ms = now_ms + cfg_.okx.funding_interval_ms;
      publish_funding(s, now_ms);
    }
  }
}

void okx_feed::flush_books(inst_state& s, std::int64_t now_ms, bool heartbeat) {
  auto& b = buf_;
  b.clear();
  arg(b, "books", s);
  b.append(",\"action\":\"update\",\"data\":[{\"asks\":[");
  bool first = true;
  for (const auto& [p, l] : s.pending_asks) {
    if (!first) b.push_back(',');
    first = false;
    level(b, s, l);
  }
  b.append("],\"bids\":[");
  first = true;
  for (const auto& [p, l] : s.pending_bids) {
    if (!first) b.push_back(',');
    first = false;
    level(b, s, l);
  }
  b.append("],\"ts\":");
  append_quoted_int(b, now_ms);
  b.append(",\"checksum\":");
  append_int(b, checksum_of(s));
  b.append(",\"prevSeqId\":");
  append_int(b, s.books_sent_seq);
  b.append(",\"seqId\":");
  append_int(b, s.seq);
  b.append("}]}");
  sink_.publish(s.books_stream, b,
                {s.seq, s.seq, s.books_sent_seq, now_ms, heartbeat ? std::uint8_t{kTruthHeartbeat} : std::uint8_t{0}});
  s.books_sent_seq = s.seq;
  s.pending_asks.clear();
  s.pending_bids.clear();
}

void okx_feed::publish_books5(inst_state& s, std::int64_t now_ms) {
  auto& b = buf_;
  b.clear();
  arg(b, "books5", s);
  b.append(",\"data\":[{\"asks\":");
  top_levels(b, s, side::ask, 5);
  b.append(",\"bids\":");
  top_levels(b, s, side::bid, 5);
  b.append(",\"instId\":\"").append(s.sim.instrument().symbol).append("\",\"ts\":");
  append_quoted_int(b, now_ms);
  b.append(",\"seqId\":");
  append_int(b, s.seq);
  b.append("}]}");
  sink_.publish(s.books5_stream, b, {s.seq, s.seq, -1, now_ms, kTruthSnapshot});
  s.books5_sent_seq = s.seq;
}

void okx_feed::publish_ticker(inst_state& s, std::int64_t now_ms) {
  s.ticker_dirty = false;
  const auto& inst = s.sim.instrument();
  const auto bid = s.sim.book().best(side::bid).value_or(book_level{});
  const auto ask = s.sim.book().best(side::ask).value_or(book_level{});
  auto& b = buf_;
  b.clear();
  arg(b, "tickers", s);
  auto field = [&](const char* name, std::int64_t v, int scale) {
    b.append(",\"").append(name).append("\":\"");
    append_decimal(b, v, scale, 0);
    b.push_back('"');
  };
  b.append(",\"data\":[{\"instType\":\"SPOT\",\"instId\":\"").append(inst.symbol).push_back('"');
  field("last", s.last_px, inst.price_scale);
  field("lastSz", s.last_sz, inst.qty_scale);
  field("askPx", ask.price, inst.price_scale);
  field("askSz", ask.qty, inst.qty_scale);
  field("bidPx", bid.price, inst.price_scale);
  field("bidSz", bid.qty, inst.qty_scale);
  field("open24h", s.open, inst.price_scale);
  field("high24h", s.high, inst.price_scale);
  field("low24h", s.low, inst.price_scale);
  field("sodUtc0", s.open, inst.price_scale);
  field("sodUtc8", s.open, inst.price_scale);
  field("volCcy24h", s.vol_ccy, inst.qty_scale);
  field("vol24h", s.vol, inst.qty_scale);
  b.append(",\"ts\":");
  append_quoted_int(b, now_ms);
  b.append("}]}");
  sink_.publish(s.tickers_stream, b, {0, 0, -1, now_ms, 0});
}

void okx_feed::publish_mark(inst_state& s, std::int64_t mark, std::int64_t now_ms) {
  s.mark_sent = mark;
  s.mark_sent_ms = now_ms;
  const auto& inst = s.sim.instrument();
  auto& b = buf_;
  b.clear();
  arg(b, "mark-price", s);
  b.append(",\"data\":[{\"instType\":\"").append(s.swap ? "SWAP" : "MARGIN").append("\",\"instId\":\"");
  b.append(inst.symbol).append("\",\"markPx\":\"");
  append_decimal(b, mark, inst.price_scale, 0);
  b.append("\",\"ts\":");
  append_quoted_int(b, now_ms);
  b.append("}]}");
  sink_.publish(s.mark_stream, b, {now_ms, now_ms, -1, now_ms, 0});  // no id: ts orders the pushes
}

void okx_feed::publish_funding(inst_state& s, std::int64_t now_ms) {
  // "Funding rate channel" (2026-12) element, the fields in the docs' order.
  const mark_values v = mark_of(s.sim.book(), now_ms);
  const auto& inst = s.sim.instrument();
  auto& b = buf_;
  b.clear();
  arg(b, "funding-rate", s);
  auto rate = [&](const char* name, std::int64_t e8) {
    b.append(",\"").append(name).append("\":\"");
    append_decimal(b, e8, 8, 0);
    b.push_back('"');
  };
  b.append(",\"data\":[{\"formulaType\":\"withRate\"");
  rate("fundingRate", v.funding_rate_e8);
  b.append(",\"fundingTime\":");
  append_quoted_int(b, v.funding_time_ms);
  b.append(",\"impactValue\":\"20000\",\"instId\":\"").append(inst.symbol).append("\",\"instType\":\"SWAP\"");
  b.append(",\"interestRate\":\"0.0001\",\"maxFundingRate\":\"0.00375\",\"method\":\"current_period\"");
  b.append(",\"minFundingRate\":\"-0.00375\",\"nextFundingRate\":\"\",\"nextFundingTime\":");
  append_quoted_int(b, v.funding_time_ms + kFundingPeriodMs);
  rate("premium", v.funding_rate_e8 - 10'000);
  rate("settFundingRate", v.funding_rate_e8);
  b.append(",\"settState\":\"settled\",\"ts\":");
  append_quoted_int(b, now_ms);
  b.append("}]}");
  sink_.publish(s.funding_stream, b, {now_ms, now_ms, -1, now_ms, 0});
}

std::string okx_feed::snapshot(const inst_state& s, const char* channel, std::int64_t seq, std::int64_t now_ms) const {
  std::string b;
  b.reserve(40000);
  arg(b, channel, s);
  b.append(",\"action\":\"snapshot\",\"data\":[{\"asks\":");
  top_levels(b, s, side::ask, kBookLevels);
  b.append(",\"bids\":");
  top_levels(b, s, side::bid, kBookLevels);
  b.append(",\"ts\":");
  append_quoted_int(b, now_ms);
  b.append(",\"checksum\":");
  append_int(b, checksum_of(s));
  b.append(",\"prevSeqId\":-1,\"seqId\":");
  append_int(b, seq);
  b.append("}]}");
  return b;
}

std::optional<std::string> okx_feed::subscribe_snapshot(std::uint16_t stream, std::int64_t now_ms, event_meta& meta) {
  for (auto& s : insts_) {
    if (stream == s.books_stream) {
      if (s.books_sent_seq != s.seq) flush_books(s, now_ms, false);
      meta = {s.seq, s.seq, -1, now_ms, kTruthSnapshot | kTruthPerConnection};
      return snapshot(s, "books", s.seq, now_ms);
    }
    if (stream == s.l2_stream) {
      // books-l2-tbt publishes every change at once, so the live book is the last sent state.
      meta = {s.l2_sent_seq, s.l2_sent_seq, -1, now_ms, kTruthSnapshot | kTruthPerConnection};
      return snapshot(s, "books-l2-tbt", s.l2_sent_seq, now_ms);
    }
  }
  return std::nullopt;
}

const okx_feed::inst_state* okx_feed::find(std::string_view inst_id) const {
  for (const auto& st : insts_)
    if (st.sim.instrument().symbol == inst_id) return &st;
  return nullptr;
}

std::string okx_feed::rest_books(std::string_view inst_id, std::string_view sz_text, std::int64_t now_ms) const {
  const inst_state* s = find(inst_id);
  if (s == nullptr) return R"({"code":"51001","msg":"Instrument ID does not exist","data":[]})";
  std::size_t sz = 1;  // OKX default
  if (!sz_text.empty()) {
    const auto r = std::from_chars(sz_text.data(), sz_text.data() + sz_text.size(), sz);
    if (r.ec != std::errc{} || r.ptr != sz_text.data() + sz_text.size() || sz == 0)
      return R"({"code":"51000","msg":"Parameter sz error","data":[]})";
    sz = std::min(sz, kBookLevels);
  }
  std::string b = R"({"code":"0","msg":"","data":[{"asks":)";
  top_levels(b, *s, side::ask, sz);
  b.append(",\"bids\":");
  top_levels(b, *s, side::bid, sz);
  b.append(",\"ts\":");
  append_quoted_int(b, now_ms);
  // seqId lets a client join the channel: first update with prevSeqId <= seqId < its seqId.
  b.append(",\"seqId\":");
  append_int(b, s->seq);
  b.append("}]}");
  return b;
}

}  // namespace mdbus::exsim
