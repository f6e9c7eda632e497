#pragma once
/// The deterministic simulated market: per instrument a consistent order book that a seeded
/// random process modifies and trades against, one action at a time. The venue feeds turn
/// each action into the venue's events; the market knows nothing of venues or JSON.
#include <array>
#include <cstdint>
#include <string>

#include "tools/exsim/exsim_config.hpp"
#include "tools/exsim/order_book.hpp"
#include "tools/exsim/rng.hpp"

namespace mdbus::exsim {

/// What one market step did: at most one taker trade (split into fills against one price
/// level) and the level changes it caused, in order (absolute quantities, 0 = deleted).
struct market_action {
  static constexpr std::size_t kMaxChanges = 4;
  static constexpr std::size_t kMaxFills = 3;
  bool has_trade = false;
  side taker = side::bid;  ///< bid: a buyer lifted the ask; ask: a seller hit the bid
  std::int64_t trade_price = 0;
  std::int64_t trade_qty = 0;
  std::array<std::int64_t, kMaxFills> fill_qty{};
  std::size_t fills = 0;
  std::array<std::pair<side, book_level>, kMaxChanges> changes{};
  std::size_t change_count = 0;
};

/// One instrument's book and the random process that drives it.
class book_sim {
 public:
  book_sim(const instrument_config& inst, std::uint64_t seed);

  /// Performs one random action on the book and describes it in `out`.
  void step(market_action& out);

  [[nodiscard]] const order_book& book() const noexcept { return book_; }
  [[nodiscard]] const instrument_config& instrument() const noexcept { return inst_; }

  static constexpr std::size_t kMinLevels = 50;   ///< per side, refilled after trades/deletes
  static constexpr std::size_t kMaxLevels = 420;  ///< per side (OKX books sends 400)

 private:
  void change(market_action& out, side s, std::int64_t price, std::int64_t qty, std::int32_t orders);
  void trade(market_action& out);
  void modify(market_action& out);
  void refill(market_action& out, side s);
  std::int64_t random_qty() noexcept;

  instrument_config inst_;
  rng rng_;
  order_book book_;
  std::int64_t max_lots_;
};

}  // namespace mdbus::exsim
