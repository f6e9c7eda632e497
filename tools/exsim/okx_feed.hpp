#pragma once
/// OKX v5 public channels generated from the simulated market (OKX API v5 "WebSocket Public
/// Channel"): trades, tickers, bbo-tbt, books (snapshot then 100 ms updates), books5 and
/// books-l2-tbt, with seqId/prevSeqId chaining and the CRC32 checksum of the top 25 levels;
/// "Public Data" mark-price (every instId) and funding-rate (-SWAP instIds), mark_model.hpp's
/// values; plus REST GET /api/v5/market/books.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tools/exsim/exsim_config.hpp"
#include "tools/exsim/market.hpp"
#include "tools/exsim/stream_registry.hpp"
#include "tools/exsim/trade_history.hpp"

namespace mdbus::exsim {

class okx_feed {
 public:
  okx_feed(const exsim_config& cfg, stream_registry& streams, event_sink& sink);

  [[nodiscard]] std::size_t instrument_count() const noexcept { return insts_.size(); }
  void step(std::size_t i, std::int64_t now_ms);
  void on_timer(std::int64_t now_ms);

  /// The snapshot a new subscriber of a book stream (books, books-l2-tbt) gets. Flushes a
  /// pending books update to the existing subscribers first, so the snapshot's seqId is the
  /// prevSeqId of the next update every subscriber receives. nullopt: not a book stream.
  std::optional<std::string> subscribe_snapshot(std::uint16_t stream, std::int64_t now_ms, event_meta& meta);

  /// REST /api/v5/market/books reply (HTTP 200 with an OKX code, as OKX does).
  [[nodiscard]] std::string rest_books(std::string_view inst_id, std::string_view sz, std::int64_t now_ms) const;

  /// REST GET /api/v5/market/trades (`history` false: the latest, limit <= 500) and
  /// /api/v5/market/history-trades (`history`: type=1, after/before by tradeId, limit <= 100),
  /// one row per fill, newest first (trade_rest.cpp). HTTP 200 with an OKX code, as OKX does.
  [[nodiscard]] std::string rest_trades(std::string_view inst_id, const std::function<std::string(const char*)>& query,
                                        bool history) const;

  /// The checksum OKX defines: CRC32 of "bidPx:bidSz:askPx:askSz:..." over the top 25 levels.
  [[nodiscard]] std::int32_t checksum(std::size_t i) const;

  [[nodiscard]] std::int64_t seq_id(std::size_t i) const { return insts_.at(i).seq; }
  [[nodiscard]] const std::string& inst_id(std::size_t i) const { return insts_.at(i).sim.instrument().symbol; }

 private:
  struct inst_state {
    explicit inst_state(book_sim s) : sim(std::move(s)) {}
    book_sim sim;
    std::int64_t seq = 0;
    std::int64_t trade_id = 0;
    std::uint16_t trades_stream = 0, tickers_stream = 0, bbo_stream = 0, books_stream = 0, books5_stream = 0,
                  l2_stream = 0;
    std::int64_t l2_sent_seq = 0, books_sent_seq = 0, books5_sent_seq = -1;
    std::int64_t books_next_ms = 0, books_last_ms = 0, tickers_next_ms = 0;
    std::map<std::int64_t, book_level, std::greater<>> pending_bids;  ///< books window
    std::map<std::int64_t, book_level> pending_asks;
    book_level sent_bid, sent_ask;  ///< bbo-tbt
    bool ticker_dirty = true;
    std::int64_t last_px = 0, last_sz = 0, open = 0, high = 0, low = 0, vol = 0, vol_ccy = 0;
    std::uint16_t mark_stream = 0;
    std::uint16_t funding_stream = 0xFFFF;  ///< -SWAP instIds only
    std::int64_t mark_next_ms = 0, mark_sent_ms = 0, mark_sent = 0, funding_next_ms = 0;
    bool swap = false;  ///< instId ends in -SWAP: a perpetual
    trade_history fills;  ///< every fill the trades channel aggregated, for the REST history
  };

  void publish_trade(inst_state& s, const market_action& a, std::int64_t now_ms);
  void publish_l2(inst_state& s, const market_action& a, std::int64_t now_ms);
  void publish_bbo(inst_state& s, std::int64_t now_ms);
  void flush_books(inst_state& s, std::int64_t now_ms, bool heartbeat);
  void publish_books5(inst_state& s, std::int64_t now_ms);
  void publish_ticker(inst_state& s, std::int64_t now_ms);
  void publish_mark(inst_state& s, std::int64_t mark, std::int64_t now_ms);
  void publish_funding(inst_state& s, std::int64_t now_ms);
  void arg(std::string& b, const char* channel, const inst_state& s) const;
  void level(std::string& b, const inst_state& s, const book_level& l) const;
  void top_levels(std::string& b, const inst_state& s, side sd, std::size_t n) const;
  [[nodiscard]] std::int32_t checksum_of(const inst_state& s) const;
  [[nodiscard]] std::string snapshot(const inst_state& s, const char* channel, std::int64_t seq, std::int64_t now_ms) const;
  [[nodiscard]] const inst_state* find(std::string_view inst_id) const;

  const exsim_config& cfg_;
  event_sink& sink_;
  std::vector<inst_state> insts_;
  market_action action_;
  std::string buf_;
};

}  // namespace mdbus::exsim
