#pragma once
/// One instrument's price-level book: integer prices (ticks) and quantities (lots), both
/// sides ordered best-first. Small (hundreds of levels), so std::map is fast enough.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

namespace mdbus::exsim {

enum class side : std::uint8_t { bid = 0, ask = 1 };

struct book_level {
  std::int64_t price = 0;  ///< ticks
  std::int64_t qty = 0;    ///< lots; 0 means "deleted" in a change
  std::int32_t orders = 0; ///< order count (OKX reports it)
};

class order_book {
 public:
  /// Sets a level's quantity; qty 0 removes it.
  void set(side s, std::int64_t price, std::int64_t qty, std::int32_t orders);

  [[nodiscard]] std::optional<book_level> best(side s) const;
  [[nodiscard]] std::optional<book_level> worst(side s) const;
  /// The i-th level from the best (0 = best), if it exists.
  [[nodiscard]] std::optional<book_level> nth(side s, std::size_t i) const;
  [[nodiscard]] std::optional<book_level> find(side s, std::int64_t price) const;
  [[nodiscard]] std::size_t size(side s) const noexcept { return s == side::bid ? bids_.size() : asks_.size(); }

  /// Calls f(level) for the best `n` levels of a side, best first.
  template <class F>
  void for_top(side s, std::size_t n, F&& f) const {
    if (s == side::bid)
      visit(bids_, n, f);
    else
      visit(asks_, n, f);
  }

 private:
  struct slot {
    std::int64_t qty;
    std::int32_t orders;
  };
  template <class M, class F>
  static void visit(const M& m, std::size_t n, F& f) {
    for (auto it = m.begin(); it != m.end() && n > 0; ++it, --n) f(book_level{it->first, it->second.qty, it->second.orders});
  }
  std::map<std::int64_t, slot, std::greater<>> bids_;
  std::map<std::int64_t, slot> asks_;
};

}  // namespace mdbus::exsim
