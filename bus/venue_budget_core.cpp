#include "bus/venue_budget_core.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mdbus {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1'000'000'000;
/// A Retry-After is honoured up to this long (Binance bans last up to 3 days).
constexpr std::int64_t kMaxBlockS = 7 * 24 * 3600;
/// Binance rest-api.md "LIMITS" (2026): a 418 ban lasts from 2 minutes up to 3 days.
constexpr std::int64_t kMinBanNs = 120 * kSecond;

// Fixed-window word: high 32 bits = window index (mod 2^32, compared as serial numbers),
// low 32 bits = kValid | used. kValid tells a fresh word (0) from window 0 with nothing used.
constexpr std::uint64_t kValid = 0x8000'0000ULL;
constexpr std::uint64_t kUsedMax = kValid - 1;

struct fixed_view {
  std::int64_t now_index;  ///< full window index of `now`
  std::int32_t ahead;      ///< how many windows the word is ahead of now (< 0: behind)
  std::uint64_t used;      ///< in the word's window
  bool fresh;
};

fixed_view view_fixed(const rate_limit& l, std::uint64_t word, std::int64_t now) noexcept {
  fixed_view v{};
  v.now_index = now / l.window_ns;
  v.fresh = (word & kValid) == 0;
  if (v.fresh) return v;
  const auto word_idx = static_cast<std::uint32_t>(word >> 32);
  // Serial-number arithmetic: correct while processes' clocks differ by < 2^31 windows.
  v.ahead = static_cast<std::int32_t>(word_idx - static_cast<std::uint32_t>(v.now_index));
  v.used = word & kUsedMax;
  return v;
}

std::uint64_t make_fixed(std::int64_t index, std::uint64_t used) noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(index)) << 32) | kValid | std::min(used, kUsedMax);
}

}  // namespace

budget_decision budget_granted() noexcept { return {budget_outcome::granted, budget_reason::none, 0, 0}; }
budget_decision budget_refused(budget_reason why) noexcept { return {budget_outcome::refused, why, 0, 0}; }
budget_decision budget_wait(budget_reason why, std::int64_t until, std::int64_t now) noexcept {
  return {budget_outcome::wait, why, until, until > now ? until - now : 0};
}

const char* validate(const rate_limit& l) noexcept {
  if (l.kind != window_kind::fixed && l.kind != window_kind::sliding) return "window kind must be fixed or sliding";
  if (l.budget == 0 || l.budget > kMaxBudget) return "budget must be 1..2^30 units per window";
  if (l.window_ns < kMs || l.window_ns % kMs != 0 ||
      l.window_ns / kMs > std::int64_t{std::numeric_limits<std::uint32_t>::max()})
    return "window must be a whole number of ms, 1 ms .. 2^32-1 ms";
  return "";
}

std::uint32_t scaled_budget(std::uint32_t documented, double fraction) noexcept {
  if (!(fraction > 0.0 && fraction <= 1.0)) fraction = 1.0;
  const double v = std::floor(static_cast<double>(documented) * fraction);
  return v < 1.0 ? 1u : static_cast<std::uint32_t>(v);
}

namespace {
rate_limit pace_limit(const documented_pace& p, double fraction) noexcept {
  return {p.calendar_window ? window_kind::fixed : window_kind::sliding, scaled_budget(p.units, fraction), p.window_ms * kMs};
}
}  // namespace

venue_limits venue_limits_for(venue v, double rest_fraction, double connect_fraction) noexcept {
  if (const venue_descriptor* d = find_venue(v))
    return {pace_limit(d->limits.rest, rest_fraction), pace_limit(d->limits.connect, connect_fraction)};
  return {{window_kind::sliding, 1, kSecond}, {window_kind::sliding, 1, kSecond}};
}

venue_limits default_venue_limits(venue v) noexcept {
  if (const venue_descriptor* d = find_venue(v))
    return venue_limits_for(v, d->limits.rest.our_fraction, d->limits.connect.our_fraction);
  return venue_limits_for(v, 1.0, 1.0);
}

gcra_params gcra_for(const rate_limit& l) noexcept {
  const std::uint32_t burst = std::max<std::uint32_t>(1, l.budget / 2);
  const std::int64_t steady = l.budget - burst;
  // Why the bound holds (B = burst, T = interval): TAT only grows; a grant at t with cost n
  // sets TAT := max(TAT, t) + n·T and needs TAT − t <= B·T afterwards. Take the grants whose
  // `now` lies in [a, a+W], in the order their CAS succeeded: the first leaves TAT >= a + n1·T
  // (max(TAT, t1) >= t1 >= a), each later one adds >= its n·T (grants stamped outside the
  // interval only add more), and the last leaves TAT <= t_last + B·T <= a + W + B·T. So
  // Σn·T <= W + B·T, Σn <= B + floor(W/T) <= B + (budget − B) = budget. T is rounded up, so
  // the bound survives integer ns; budget == B needs T > W (only one burst per window).
  const std::int64_t interval = steady > 0 ? (l.window_ns + steady - 1) / steady : l.window_ns + 1;
  return {interval, burst};
}

budget_reason rate_refusal(const rate_limit& l, std::uint32_t cost) noexcept {
  if (cost == 0) return budget_reason::zero_cost;
  const std::uint32_t most = l.kind == window_kind::fixed ? l.budget : gcra_for(l).burst;
  return cost > most ? budget_reason::too_heavy : budget_reason::none;
}

budget_decision rate_try(const rate_limit& l, std::uint64_t& word, std::uint32_t cost, std::int64_t now) noexcept {
  if (const budget_reason r = rate_refusal(l, cost); r != budget_reason::none) return budget_refused(r);
  if (l.kind == window_kind::fixed) {
    const fixed_view v = view_fixed(l, word, now);
    // One window ahead: our `now` was read just before another process rolled the window;
    // a fresh read is in it. Further ahead: the wall clock stepped back (NTP) — waiting for
    // it to catch up could stall REST for as long as the step, so count on in `now`'s
    // window, carrying the count (never an extra grant from the step itself).
    if (!v.fresh && v.ahead == 1)
      return budget_wait(budget_reason::clock_behind, (v.now_index + 1) * l.window_ns, now);
    const std::uint64_t used = (v.fresh || v.ahead < 0) ? 0 : v.used;  // behind: a new window starts empty
    if (used + cost > l.budget) return budget_wait(budget_reason::window_full, (v.now_index + 1) * l.window_ns, now);
    word = make_fixed(v.now_index, used + cost);
    return budget_granted();
  }
  const gcra_params g = gcra_for(l);
  const auto tat = std::max(static_cast<std::int64_t>(word), now);
  const std::int64_t next = tat + static_cast<std::int64_t>(cost) * g.interval_ns;
  const std::int64_t limit = static_cast<std::int64_t>(g.burst) * g.interval_ns;
  if (next - now > limit) return budget_wait(budget_reason::window_full, next - limit, now);
  word = static_cast<std::uint64_t>(next);
  return budget_granted();
}

bool rate_observe_used(const rate_limit& l, std::uint64_t& word, std::uint64_t used, std::int64_t now) noexcept {
  if (l.kind != window_kind::fixed) return false;
  const fixed_view v = view_fixed(l, word, now);
  std::uint64_t next = 0;
  if (v.fresh || v.ahead < 0) {
    next = make_fixed(v.now_index, used);
  } else if (v.ahead == 1) {
    // The header is older than the window another process just opened; raising that window
    // is conservative (it can only defer), so do it rather than lose the figure.
    if (used <= v.used) return false;
    next = make_fixed(v.now_index + 1, used);
  } else {
    // Same window, or the clock stepped back (see rate_try): count on in `now`'s window.
    next = make_fixed(v.now_index, std::max(used, v.used));
  }
  if (next == word) return false;
  word = next;
  return true;
}

bool rate_saturate(const rate_limit& l, std::uint64_t& word, std::int64_t now) noexcept {
  if (l.kind == window_kind::fixed) return rate_observe_used(l, word, l.budget, now);
  const gcra_params g = gcra_for(l);
  const std::int64_t full = now + static_cast<std::int64_t>(g.burst) * g.interval_ns;
  if (static_cast<std::int64_t>(word) >= full) return false;
  word = static_cast<std::uint64_t>(full);
  return true;
}

std::uint64_t rate_in_use(const rate_limit& l, std::uint64_t word, std::int64_t now) noexcept {
  if (l.kind == window_kind::fixed) {
    const fixed_view v = view_fixed(l, word, now);
    return (v.fresh || v.ahead < 0) ? 0 : v.used;
  }
  const auto tat = static_cast<std::int64_t>(word);
  if (tat <= now) return 0;
  const gcra_params g = gcra_for(l);
  return static_cast<std::uint64_t>((tat - now + g.interval_ns - 1) / g.interval_ns);
}

std::int64_t block_ns_for(const rate_limit& rest, int http_status, std::int64_t retry_after_s) noexcept {
  if (http_status != 429 && http_status != 418) return 0;
  if (retry_after_s >= 0) return std::min(retry_after_s, kMaxBlockS) * kSecond;
  return http_status == 418 ? std::max(kMinBanNs, rest.window_ns) : rest.window_ns;
}

budget_decision rest_budget_state::try_spend(std::uint32_t cost, std::int64_t now) noexcept {
  if (const budget_reason r = rate_refusal(limit, cost); r != budget_reason::none) return budget_refused(r);
  if (blocked_at(blocked_until, now)) return budget_wait(budget_reason::retry_after, blocked_until, now);
  return rate_try(limit, word, cost, now);
}

void rest_budget_state::observe_answer(int http_status, std::int64_t used, std::int64_t retry_after_s,
                                       std::int64_t now) noexcept {
  if (used >= 0) observe_used_weight(static_cast<std::uint64_t>(used), now);
  if (http_status == 429 || http_status == 418) {
    rate_saturate(limit, word, now);
    observe_retry_after(now + block_ns_for(limit, http_status, retry_after_s));
  }
}

}  // namespace mdbus
