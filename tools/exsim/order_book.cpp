#include "tools/exsim/order_book.hpp"

#include <iterator>

namespace mdbus::exsim {
namespace {

template <class M>
std::optional<book_level> level_at(const M& m, typename M::const_iterator it) {
  if (it == m.end()) return std::nullopt;
  return book_level{it->first, it->second.qty, it->second.orders};
}

template <class M>
void set_in(M& m, std::int64_t price, std::int64_t qty, std::int32_t orders) {
  if (qty == 0)
    m.erase(price);
  else
    m[price] = {qty, orders};
}

}  // namespace

void order_book::set(side s, std::int64_t price, std::int64_t qty, std::int32_t orders) {
  if (s == side::bid)
    set_in(bids_, price, qty, orders);
  else
    set_in(asks_, price, qty, orders);
}

std::optional<book_level> order_book::best(side s) const {
  return s == side::bid ? level_at(bids_, bids_.begin()) : level_at(asks_, asks_.begin());
}

std::optional<book_level> order_book::worst(side s) const {
  if (size(s) == 0) return std::nullopt;
  return s == side::bid ? level_at(bids_, std::prev(bids_.end())) : level_at(asks_, std::prev(asks_.end()));
}

std::optional<book_level> order_book::nth(side s, std::size_t i) const {
  if (i >= size(s)) return std::nullopt;
  return s == side::bid ? level_at(bids_, std::next(bids_.begin(), static_cast<std::ptrdiff_t>(i)))
                        : level_at(asks_, std::next(asks_.begin(), static_cast<std::ptrdiff_t>(i)));
}

std::optional<book_level> order_book::find(side s, std::int64_t price) const {
  return s == side::bid ? level_at(bids_, bids_.find(price)) : level_at(asks_, asks_.find(price));
}

}  // namespace mdbus::exsim
