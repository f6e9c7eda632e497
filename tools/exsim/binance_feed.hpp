#pragma once
/// Binance market-data streams generated from the simulated market, spot or USD-M futures.
/// Spot (binance-spot-api-docs web-socket-streams.md): @trade, @aggTrade, @bookTicker, diff
/// depth (@depth, @depth@100ms, U/u over one update-id space shared with bookTicker's u) and
/// partial depth (@depth5/10/20[@100ms]); REST GET /api/v3/depth consistent with the diff ids.
/// USD-M (USDⓈ-M Futures "WebSocket Market Streams", 2026-12): the same streams with the
/// futures shapes — depth events carry T and pu (the previous event's u) and their ids skip
/// (U != previous u + 1: the id space is shared with other symbols), partial depth is a
/// depthUpdate event, bookTicker carries e, E and T, trades carry X, aggTrade nq; speeds @depth
/// (250 ms), @500ms, @100ms and @0ms (every change); each stream is routed on /public (depth,
/// bookTicker) or /market (trades, markPrice); @markPrice[@1s] every 3 s or 1 s (mark_model.hpp);
/// REST GET /fapi/v1/depth.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tools/exsim/exsim_config.hpp"
#include "tools/exsim/market.hpp"
#include "tools/exsim/rng.hpp"
#include "tools/exsim/stream_registry.hpp"
#include "tools/exsim/trade_history.hpp"

namespace mdbus::exsim {

class binance_feed {
 public:
  /// `bc` is cfg.binance (spot, venue::binance) or cfg.usdm (futures, venue::binance_usdm).
  binance_feed(const exsim_config& cfg, const binance_config& bc, stream_registry& streams, event_sink& sink);

  [[nodiscard]] std::size_t instrument_count() const noexcept { return symbols_.size(); }
  /// One market action on instrument i, published on the tick-by-tick streams.
  void step(std::size_t i, std::int64_t now_ms);
  /// Emits the interval streams (diff and partial depth) that are due.
  void on_timer(std::int64_t now_ms);

  /// REST /api/v3/depth (or /fapi/v1/depth) reply body; sets http_status (200, or 400 with a
  /// Binance error body).
  [[nodiscard]] std::string rest_depth(std::string_view symbol, std::string_view limit, std::int64_t now_ms,
                                       int& http_status) const;

  /// REST GET /api/v3/trades (`historical` false: the latest), /api/v3/historicalTrades
  /// (`historical`: fromId) and their /fapi/v1 twins, from the trades the streams carried
  /// (trade_rest.cpp). `query` reads a query-string argument ("" when absent).
  [[nodiscard]] std::string rest_trades(std::string_view symbol, const std::function<std::string(const char*)>& query,
                                        bool historical, int& http_status) const;
  /// REST GET /api/v3/aggTrades (and /fapi/v1/aggTrades): fromId, startTime, endTime, limit.
  [[nodiscard]] std::string rest_agg_trades(std::string_view symbol, const std::function<std::string(const char*)>& query,
                                            int& http_status) const;

  /// Current update id of a symbol (tests and GET /status).
  [[nodiscard]] std::int64_t last_update_id(std::size_t i) const { return symbols_.at(i).update_id; }
  [[nodiscard]] const std::string& symbol(std::size_t i) const { return symbols_.at(i).sim.instrument().symbol; }

 private:
  struct depth_window {
    std::uint16_t stream = 0;
    std::int64_t interval_ms = 0;
    std::int64_t next_ms = 0;
    std::int64_t first_u = 0;  ///< 0: nothing pending
    std::int64_t last_u = 0;   ///< USD-M pu: the u of this stream's previous event
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;
  };
  struct partial_stream {
    std::uint16_t stream = 0;
    int levels = 0;
    std::int64_t interval_ms = 0;
    std::int64_t next_ms = 0;
    std::int64_t sent_update_id = -1;
    std::int64_t last_u = 0;  ///< USD-M: u of this stream's previous event (pu)
  };
  /// USD-M @markPrice (3 s) or @markPrice@1s: mark_model.hpp's values on a fixed cadence.
  struct mark_stream {
    std::uint16_t stream = 0;
    std::int64_t interval_ms = 0;
    std::int64_t next_ms = 0;
  };
  struct symbol_state {
    symbol_state(book_sim s, std::uint64_t id_seed) : sim(std::move(s)), ids(id_seed) {}
    book_sim sim;
    rng ids;  ///< USD-M: how far the shared id space moved between two changes of this symbol
    std::string lower;
    std::int64_t update_id = 0;
    std::int64_t trade_id = 0;
    std::int64_t agg_id = 0;
    std::uint16_t trade_stream = 0, agg_stream = 0, ticker_stream = 0;
    depth_window slow, fast, mid, now;  ///< @depth, @100ms; USD-M also @500ms and @0ms (mid, now unused on spot)
    std::vector<partial_stream> partials;
    std::vector<mark_stream> marks;  ///< USD-M only
    book_level sent_bid, sent_ask;  ///< top of book last sent on @bookTicker
    trade_history trades, aggs;     ///< what @trade and @aggTrade carried, for the REST history
  };

  void publish_trades(symbol_state& s, const market_action& a, std::int64_t now_ms);
  void flush_window(symbol_state& s, depth_window& w, std::int64_t now_ms);
  void publish_partial(symbol_state& s, partial_stream& p, std::int64_t now_ms);
  void publish_mark(symbol_state& s, const mark_stream& m, std::int64_t now_ms);
  void px(std::string& out, const symbol_state& s, std::int64_t price) const;
  void qty(std::string& out, const symbol_state& s, std::int64_t lots) const;
  [[nodiscard]] const symbol_state* find(std::string_view symbol) const;

  /// The diff-depth windows this venue serves (spot: slow, fast; USD-M: slow, mid, fast, now).
  [[nodiscard]] std::vector<depth_window*> windows(symbol_state& s) const;

  const exsim_config& cfg_;
  const binance_config& bc_;
  venue venue_;
  event_sink& sink_;
  std::vector<symbol_state> symbols_;
  market_action action_;
  std::string buf_;
};

}  // namespace mdbus::exsim
