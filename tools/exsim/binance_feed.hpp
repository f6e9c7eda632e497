#pragma once
/// Binance spot market-data streams generated from the simulated market
/// (binance-spot-api-docs web-socket-streams.md): @trade, @aggTrade, @bookTicker, diff depth
/// (@depth, @depth@100ms, U/u over one update-id space shared with bookTicker's u) and partial
/// depth (@depth5/10/20[@100ms]); plus REST GET /api/v3/depth consistent with the diff ids.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tools/exsim/exsim_config.hpp"
#include "tools/exsim/market.hpp"
#include "tools/exsim/stream_registry.hpp"

namespace mdbus::exsim {

class binance_feed {
 public:
  binance_feed(const exsim_config& cfg, stream_registry& streams, event_sink& sink);

  [[nodiscard]] std::size_t instrument_count() const noexcept { return symbols_.size(); }
  /// One market action on instrument i, published on the tick-by-tick streams.
  void step(std::size_t i, std::int64_t now_ms);
  /// Emits the interval streams (diff and partial depth) that are due.
  void on_timer(std::int64_t now_ms);

  /// REST /api/v3/depth reply body; sets http_status (200, or 400 with a Binance error body).
  [[nodiscard]] std::string rest_depth(std::string_view symbol, std::string_view limit, int& http_status) const;

  /// Current update id of a symbol (tests and GET /status).
  [[nodiscard]] std::int64_t last_update_id(std::size_t i) const { return symbols_.at(i).update_id; }
  [[nodiscard]] const std::string& symbol(std::size_t i) const { return symbols_.at(i).sim.instrument().symbol; }

 private:
  struct depth_window {
    std::uint16_t stream = 0;
    std::int64_t interval_ms = 0;
    std::int64_t next_ms = 0;
    std::int64_t first_u = 0;  ///< 0: nothing pending
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;
  };
  struct partial_stream {
    std::uint16_t stream = 0;
    int levels = 0;
    std::int64_t interval_ms = 0;
    std::int64_t next_ms = 0;
    std::int64_t sent_update_id = -1;
  };
  struct symbol_state {
    explicit symbol_state(book_sim s) : sim(std::move(s)) {}
    book_sim sim;
    std::string lower;
    std::int64_t update_id = 0;
    std::int64_t trade_id = 0;
    std::int64_t agg_id = 0;
    std::uint16_t trade_stream = 0, agg_stream = 0, ticker_stream = 0;
    depth_window slow, fast;
    std::vector<partial_stream> partials;
    book_level sent_bid, sent_ask;  ///< top of book last sent on @bookTicker
  };

  void publish_trades(symbol_state& s, const market_action& a, std::int64_t now_ms);
  void flush_window(symbol_state& s, depth_window& w, std::int64_t now_ms);
  void publish_partial(symbol_state& s, partial_stream& p);
  void px(std::string& out, const symbol_state& s, std::int64_t price) const;
  void qty(std::string& out, const symbol_state& s, std::int64_t lots) const;

  const exsim_config& cfg_;
  event_sink& sink_;
  std::vector<symbol_state> symbols_;
  market_action action_;
  std::string buf_;
};

}  // namespace mdbus::exsim
