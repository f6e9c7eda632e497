#pragma once
/// The perpetual-swap reference values exsim publishes beside a simulated book: a mark price,
/// an index price and a funding rate, deterministic functions of the book and the clock, so a
/// test can predict them and two connections receive the same values.
///
/// mark = the book's mid (rounded down to a tick); index = mark minus a premium of -3..3 ticks
/// that changes every second; funding rate = 0.0001 (the venues' interest component, 0.01 % per
/// 8 h) + premium / index / 8, to 8 decimals; funding time = the next 8-hour boundary (00:00,
/// 08:00, 16:00 UTC), when the rate is settled.
#include <cstdint>

#include "tools/exsim/order_book.hpp"

namespace mdbus::exsim {

struct mark_values {
  std::int64_t mark = 0;   ///< ticks (the instrument's price scale)
  std::int64_t index = 0;  ///< ticks
  std::int64_t funding_rate_e8 = 0;  ///< funding rate × 10^8
  std::int64_t funding_time_ms = 0;
};

inline constexpr std::int64_t kFundingPeriodMs = 8LL * 3600 * 1000;

[[nodiscard]] inline mark_values mark_of(const order_book& book, std::int64_t now_ms) {
  mark_values m;
  const auto bid = book.best(side::bid);
  const auto ask = book.best(side::ask);
  if (bid && ask) {
    m.mark = (bid->price + ask->price) / 2;
  } else {
    m.mark = bid ? bid->price : ask ? ask->price : 1;
  }
  const std::int64_t premium = (now_ms / 1000) % 7 - 3;
  m.index = m.mark - premium > 0 ? m.mark - premium : m.mark;
  m.funding_rate_e8 = 10'000 + (m.mark - m.index) * 100'000'000 / (m.index * 8);
  m.funding_time_ms = (now_ms / kFundingPeriodMs + 1) * kFundingPeriodMs;
  return m;
}

}  // namespace mdbus::exsim
