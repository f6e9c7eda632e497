#pragma once
/// An instrument's recent trades, kept so exsim answers the venues' trade-history REST
/// endpoints from the same trades its streams carried (issue 16: backfill):
/// - Binance spot rest-api.md "Recent trades list" (GET /api/v3/trades), "Old trade lookup"
///   (GET /api/v3/historicalTrades, fromId) and "Compressed/Aggregate trades list"
///   (GET /api/v3/aggTrades, fromId inclusive, startTime/endTime), and USD-M's /fapi/v1 twins;
/// - OKX v5 "Get trades" (GET /api/v5/market/trades, the latest) and "Get trades history"
///   (GET /api/v5/market/history-trades, type=1: paged by tradeId, `after` = older than,
///   `before` = newer than, newest first).
///
/// Bounded, like a venue's: past `capacity` rows the oldest go. A request from an id older
/// than what is kept gets what is left, so the client sees that the first id it got is not
/// the one it asked for (the venues keep months; exsim keeps what its tests need, and a small
/// bound lets a test reach "older than the venue keeps"). Pure: no I/O; exsim_unit_test.
#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

namespace mdbus::exsim {

struct trade_row {
  std::int64_t id = 0;        ///< trade id (Binance t, OKX tradeId) or aggregate id (Binance a)
  std::int64_t price = 0;     ///< in the instrument's price-scale units
  std::int64_t qty = 0;       ///< in lots
  std::int64_t time_ms = 0;
  bool taker_sold = false;    ///< Binance m / isBuyerMaker (the buyer was the maker); OKX side "sell"
  std::int64_t first_id = 0;  ///< aggregate rows: the trade ids first_id..last_id
  std::int64_t last_id = 0;
};

class trade_history {
 public:
  explicit trade_history(std::size_t capacity = 0) : capacity_(capacity) {}

  /// Appends the newest row; ids must increase.
  void push(const trade_row& r) {
    if (capacity_ == 0) return;
    if (rows_.size() == capacity_) rows_.pop_front();
    rows_.push_back(r);
  }

  [[nodiscard]] std::size_t size() const noexcept { return rows_.size(); }
  [[nodiscard]] std::int64_t oldest_id() const noexcept { return rows_.empty() ? 0 : rows_.front().id; }
  [[nodiscard]] std::int64_t newest_id() const noexcept { return rows_.empty() ? 0 : rows_.back().id; }

  /// Up to `limit` rows with id >= from_id, oldest first (Binance fromId).
  [[nodiscard]] std::vector<trade_row> from_id(std::int64_t from, std::size_t limit) const {
    auto it = std::lower_bound(rows_.begin(), rows_.end(), from, [](const trade_row& r, std::int64_t id) { return r.id < id; });
    const auto n = std::min<std::size_t>(limit, static_cast<std::size_t>(rows_.end() - it));
    return {it, it + static_cast<std::ptrdiff_t>(n)};
  }

  /// The newest `limit` rows, oldest first (Binance without fromId).
  [[nodiscard]] std::vector<trade_row> latest(std::size_t limit) const {
    const auto n = std::min(limit, rows_.size());
    return {rows_.end() - static_cast<std::ptrdiff_t>(n), rows_.end()};
  }

  /// Up to `limit` rows with start_ms <= time <= end_ms, oldest first (Binance aggTrades
  /// startTime/endTime); times never decrease along the history.
  [[nodiscard]] std::vector<trade_row> in_time(std::int64_t start_ms, std::int64_t end_ms, std::size_t limit) const {
    auto it = std::lower_bound(rows_.begin(), rows_.end(), start_ms,
                               [](const trade_row& r, std::int64_t t) { return r.time_ms < t; });
    std::vector<trade_row> out;
    for (; it != rows_.end() && it->time_ms <= end_ms && out.size() < limit; ++it) out.push_back(*it);
    return out;
  }

  /// What OKX pages by: the trade id (type=1) or the time (type=2).
  enum class key { id, time };

  /// Up to `limit` rows whose key is below `value`, newest first: the page just older than a
  /// cursor (OKX `after`).
  [[nodiscard]] std::vector<trade_row> older_than(key k, std::int64_t value, std::size_t limit) const {
    std::vector<trade_row> out;
    for (auto it = rows_.rbegin(); it != rows_.rend() && out.size() < limit; ++it)
      if (of(*it, k) < value) out.push_back(*it);
    return out;
  }

  /// Up to `limit` rows whose key is above `value`, newest first, the newest of them (OKX
  /// `before`; no cursor at all is `value` -1).
  [[nodiscard]] std::vector<trade_row> newer_than(key k, std::int64_t value, std::size_t limit) const {
    std::vector<trade_row> out;
    for (auto it = rows_.rbegin(); it != rows_.rend() && of(*it, k) > value && out.size() < limit; ++it) out.push_back(*it);
    return out;
  }

 private:
  static std::int64_t of(const trade_row& r, key k) noexcept { return k == key::id ? r.id : r.time_ms; }

  std::size_t capacity_;
  std::deque<trade_row> rows_;
};

}  // namespace mdbus::exsim
