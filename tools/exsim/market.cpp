#include "tools/exsim/market.hpp"

namespace mdbus::exsim {

book_sim::book_sim(const instrument_config& inst, std::uint64_t seed)
    : inst_(inst), rng_(rng::derive(seed, inst.symbol)), max_lots_(1) {
  for (int i = 0; i < inst_.qty_scale; ++i) max_lots_ *= 10;
  max_lots_ *= 2;  // up to 2 units of the base asset per level
  std::int64_t bid = inst_.start_price - 1;
  std::int64_t ask = inst_.start_price + 1;
  for (std::size_t i = 0; i < 100; ++i) {
    book_.set(side::bid, bid, random_qty(), static_cast<std::int32_t>(rng_.between(1, 8)));
    book_.set(side::ask, ask, random_qty(), static_cast<std::int32_t>(rng_.between(1, 8)));
    bid -= rng_.between(1, 3);
    ask += rng_.between(1, 3);
  }
}

std::int64_t book_sim::random_qty() noexcept { return rng_.between(1, max_lots_); }

void book_sim::change(market_action& out, side s, std::int64_t price, std::int64_t qty, std::int32_t orders) {
  book_.set(s, price, qty, qty == 0 ? 0 : orders);
  if (out.change_count < market_action::kMaxChanges)
    out.changes[out.change_count++] = {s, book_level{price, qty, qty == 0 ? 0 : orders}};
}

void book_sim::step(market_action& out) {
  out.has_trade = false;
  out.fills = 0;
  out.change_count = 0;
  if (rng_.chance(25))
    trade(out);
  else
    modify(out);
}

void book_sim::trade(market_action& out) {
  out.taker = rng_.chance(50) ? side::bid : side::ask;
  const side maker = out.taker == side::bid ? side::ask : side::bid;
  const auto lvl = book_.best(maker);
  if (!lvl) return;
  const std::int64_t size = rng_.between(1, lvl->qty);
  std::size_t fills = static_cast<std::size_t>(rng_.between(1, static_cast<std::int64_t>(market_action::kMaxFills)));
  if (static_cast<std::int64_t>(fills) > size) fills = static_cast<std::size_t>(size);
  std::int64_t left = size;
  for (std::size_t i = 0; i < fills; ++i) {
    const std::int64_t q = i + 1 == fills ? left : rng_.between(1, left - static_cast<std::int64_t>(fills - i - 1));
    out.fill_qty[i] = q;
    left -= q;
  }
  out.has_trade = true;
  out.trade_price = lvl->price;
  out.trade_qty = size;
  out.fills = fills;
  const std::int64_t rest = lvl->qty - size;
  const auto orders = rest == 0 ? 0 : std::max<std::int32_t>(1, lvl->orders - static_cast<std::int32_t>(fills) + 1);
  change(out, maker, lvl->price, rest, orders);
  refill(out, maker);
}

void book_sim::modify(market_action& out) {
  const side s = rng_.chance(50) ? side::bid : side::ask;
  const side other = s == side::bid ? side::ask : side::bid;
  const std::size_t n = book_.size(s);
  if (n > kMinLevels && rng_.chance(30)) {
    const auto victim = book_.nth(s, static_cast<std::size_t>(rng_.between(0, std::min<std::int64_t>(static_cast<std::int64_t>(n) - 1, 40))));
    if (victim) change(out, s, victim->price, 0, 0);
    refill(out, s);
    return;
  }
  const auto best = book_.best(s);
  const auto opp = book_.best(other);
  std::int64_t price = best ? best->price : inst_.start_price;
  const std::int64_t offset = rng_.between(-2, 30);  // negative: improve the best price
  price = s == side::bid ? price - offset : price + offset;
  if (opp) {
    if (s == side::bid && price >= opp->price) price = opp->price - 1;
    if (s == side::ask && price <= opp->price) price = opp->price + 1;
  }
  if (price <= 0) price = 1;
  change(out, s, price, random_qty(), static_cast<std::int32_t>(rng_.between(1, 8)));
  if (book_.size(s) > kMaxLevels) {
    if (const auto w = book_.worst(s)) change(out, s, w->price, 0, 0);
  }
}

void book_sim::refill(market_action& out, side s) {
  if (book_.size(s) >= kMinLevels) return;
  const auto w = book_.worst(s);
  std::int64_t price = w ? w->price : inst_.start_price;
  price = s == side::bid ? price - rng_.between(1, 5) : price + rng_.between(1, 5);
  if (price <= 0) return;
  change(out, s, price, random_qty(), static_cast<std::int32_t>(rng_.between(1, 8)));
}

}  // namespace mdbus::exsim
