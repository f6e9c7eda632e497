// The pure decision core of the venue budgets over simulated time: Binance's calendar-minute
// weight (rollover, the X-MBX-USED-WEIGHT-1M raise, 429/418 blocks), OKX's 2 s request
// counts and both connection paces as GCRA windows, and property tests that no window —
// fixed, or every closed interval of a sliding one — ever holds more than the budget, with
// random costs, random arrival times and out-of-order clocks.
#include "bus/venue_budget_core.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <utility>
#include <vector>

using namespace mdbus;

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kMinute = 60 * kS;
/// A calendar minute boundary in 2026 (CLOCK_REALTIME ns): 2026-07-01T00:00:00Z.
constexpr std::int64_t kT0 = 1'782'864'000LL * kS;

struct grant {
  std::int64_t t;
  std::uint32_t cost;
};

/// The most units in any closed interval [t, t + window] (the sliding guarantee).
std::uint64_t max_in_any_window(std::vector<grant> g, std::int64_t window) {
  std::sort(g.begin(), g.end(), [](const grant& a, const grant& b) { return a.t < b.t; });
  std::uint64_t best = 0, sum = 0;
  std::size_t lo = 0;
  for (std::size_t hi = 0; hi < g.size(); ++hi) {
    sum += g[hi].cost;
    while (g[hi].t - g[lo].t > window) sum -= g[lo++].cost;
    best = std::max(best, sum);
  }
  return best;
}

/// Units per calendar window (the fixed guarantee).
std::map<std::int64_t, std::uint64_t> per_fixed_window(const std::vector<grant>& g, std::int64_t window) {
  std::map<std::int64_t, std::uint64_t> m;
  for (const auto& x : g) m[x.t / window] += x.cost;
  return m;
}

}  // namespace

TEST_CASE("default limits are the documented ones scaled by the default fractions") {
  const venue_limits b = default_venue_limits(venue::binance);
  CHECK(b.rest == rate_limit{window_kind::fixed, 3000, 60 * kS});
  CHECK(b.connect == rate_limit{window_kind::sliding, 150, 300 * kS});
  const venue_limits o = default_venue_limits(venue::okx);
  CHECK(o.rest == rate_limit{window_kind::sliding, 30, 2 * kS});
  CHECK(o.connect == rate_limit{window_kind::sliding, 2, kS});
  for (const auto& l : {b.rest, b.connect, o.rest, o.connect}) CHECK(std::string(validate(l)).empty());

  CHECK(gcra_for(b.connect).burst == 75);
  CHECK(gcra_for(b.connect).interval_ns == 4 * kS);
  CHECK(gcra_for(o.connect).burst == 1);
  CHECK(gcra_for(o.connect).interval_ns == kS);
  CHECK(gcra_for(o.rest).burst == 15);
  CHECK(gcra_for(o.rest).interval_ns == 133'333'334);

  CHECK(venue_limits_for(venue::binance, 1.0, 1.0).rest.budget == 6000);
  CHECK(venue_limits_for(venue::binance, 0.9, 0.2).connect.budget == 60);
  CHECK(venue_limits_for(venue::okx, 0.001, 0.001).rest.budget == 1);  // never 0
  CHECK(scaled_budget(40, 7.0) == 40);                                 // out of range → 1.0
  CHECK(scaled_budget(40, -1.0) == 40);
}

TEST_CASE("limits that cannot be counted are refused by validate") {
  CHECK(std::string(validate({window_kind::fixed, 0, kS})).find("budget") != std::string::npos);
  CHECK(std::string(validate({window_kind::fixed, 10, kMs / 2})).find("window") != std::string::npos);
  CHECK(std::string(validate({window_kind::fixed, 10, kMs + 1})).find("window") != std::string::npos);
  CHECK(std::string(validate({static_cast<window_kind>(9), 10, kS})).find("kind") != std::string::npos);
  CHECK(std::string(validate({window_kind::sliding, 1, kMs})).empty());
}

TEST_CASE("Binance depth weight follows the limit bands and OKX costs follow the endpoint limits") {
  CHECK(binance_depth_weight(0) == 5);  // default limit 100
  CHECK(binance_depth_weight(1) == 5);
  CHECK(binance_depth_weight(100) == 5);
  CHECK(binance_depth_weight(101) == 25);
  CHECK(binance_depth_weight(500) == 25);
  CHECK(binance_depth_weight(501) == 50);
  CHECK(binance_depth_weight(1000) == 50);
  CHECK(binance_depth_weight(1001) == 250);
  CHECK(binance_depth_weight(5000) == 250);
  CHECK(binance_depth_weight(9999) == 250);
  CHECK(kBinanceExchangeInfoWeight == 20);
  CHECK(okx_rest_cost(kOkxBooksPer2s) == 1);
  CHECK(okx_rest_cost(kOkxInstrumentsPer2s) == 2);
  CHECK(okx_rest_cost(15) == 3);
  CHECK(okx_rest_cost(100) == 1);
  CHECK(okx_rest_cost(0) == 1);
}

TEST_CASE("Binance weight: a minute's budget is spent, the next request waits for the next calendar minute") {
  rest_budget_state s{default_venue_limits(venue::binance).rest};
  const std::int64_t t = kT0 + 10 * kS;
  for (int i = 0; i < 12; ++i) REQUIRE(s.try_spend(250, t + i * kMs).granted());  // 12 × depth 5000 = 3000
  const budget_decision d = s.try_spend(5, t + 20 * kMs);
  CHECK(d.outcome == budget_outcome::wait);
  CHECK(d.reason == budget_reason::window_full);
  CHECK(d.wait_until_ns == kT0 + kMinute);
  CHECK(d.retry_in_ns == kT0 + kMinute - (t + 20 * kMs));
  CHECK(rate_in_use(s.limit, s.word, t) == 3000);
  CHECK_FALSE(s.try_spend(5, kT0 + kMinute - 1).granted());  // the last ns of the minute
  CHECK(s.try_spend(5, kT0 + kMinute).granted());             // exactly at the boundary
  CHECK(rate_in_use(s.limit, s.word, kT0 + kMinute) == 5);
  // An idle gap of several minutes: the next window starts empty.
  CHECK(s.try_spend(3000, kT0 + 7 * kMinute + 5).granted());
}

TEST_CASE("Binance weight: the used-weight header raises the count and never lowers it") {
  rest_budget_state s{default_venue_limits(venue::binance).rest};
  REQUIRE(s.try_spend(50, kT0 + kS).granted());
  s.observe_used_weight(2990, kT0 + 2 * kS);  // other programs on the IP used most of it
  CHECK(rate_in_use(s.limit, s.word, kT0 + 2 * kS) == 2990);
  CHECK(s.try_spend(10, kT0 + 3 * kS).granted());
  CHECK(s.try_spend(1, kT0 + 3 * kS).reason == budget_reason::window_full);
  s.observe_used_weight(100, kT0 + 4 * kS);  // a late, lower figure changes nothing
  CHECK(rate_in_use(s.limit, s.word, kT0 + 4 * kS) == 3000);
  // A header in the next minute starts that minute at its figure.
  s.observe_used_weight(2000, kT0 + kMinute + kS);
  CHECK(rate_in_use(s.limit, s.word, kT0 + kMinute + kS) == 2000);
  CHECK(s.try_spend(1000, kT0 + kMinute + 2 * kS).granted());
  CHECK_FALSE(s.try_spend(1, kT0 + kMinute + 2 * kS).granted());
  // A header above the budget (other programs) blocks us for the rest of the minute.
  s.observe_used_weight(5900, kT0 + 2 * kMinute);
  CHECK(s.try_spend(5, kT0 + 2 * kMinute + 59 * kS).wait_until_ns == kT0 + 3 * kMinute);
  // A figure past 2^31 is clamped, not wrapped.
  std::uint64_t w = 0;
  CHECK(rate_observe_used(s.limit, w, std::uint64_t{1} << 40, kT0));
  CHECK(rate_in_use(s.limit, w, kT0) == 0x7FFF'FFFFULL);
}

TEST_CASE("a 429 blocks every request until Retry-After has passed, and marks the window spent") {
  rest_budget_state s{default_venue_limits(venue::binance).rest};
  REQUIRE(s.try_spend(5, kT0 + kS).granted());
  s.observe_answer(429, 2500, 90, kT0 + 2 * kS);  // Retry-After: 90 s, past the next minute
  CHECK(s.blocked_until == kT0 + 92 * kS);
  for (std::int64_t t = kT0 + 2 * kS; t < kT0 + 92 * kS; t += 500 * kMs) {
    const budget_decision d = s.try_spend(5, t);
    REQUIRE(d.outcome == budget_outcome::wait);
    REQUIRE(d.reason == budget_reason::retry_after);
    REQUIRE(d.wait_until_ns == kT0 + 92 * kS);
  }
  CHECK(s.try_spend(5, kT0 + 92 * kS).granted());  // a new minute, block over
  // A later, shorter Retry-After never shortens a longer block.
  s.observe_answer(429, -1, 100, kT0 + 100 * kS);
  s.observe_answer(429, -1, 1, kT0 + 101 * kS);
  CHECK(s.blocked_until == kT0 + 200 * kS);
}

TEST_CASE("a 429 with Retry-After 0 still spends the rest of the window") {
  rest_budget_state s{default_venue_limits(venue::binance).rest};
  s.observe_answer(429, -1, 0, kT0 + 30 * kS);
  const budget_decision d = s.try_spend(5, kT0 + 30 * kS);
  CHECK(d.reason == budget_reason::window_full);
  CHECK(d.wait_until_ns == kT0 + kMinute);
}

TEST_CASE("429 without Retry-After blocks one window, 418 without it the documented 2 minutes") {
  const rate_limit binance = default_venue_limits(venue::binance).rest;
  const rate_limit okx = default_venue_limits(venue::okx).rest;
  CHECK(block_ns_for(binance, 429, -1) == kMinute);
  CHECK(block_ns_for(okx, 429, -1) == 2 * kS);
  CHECK(block_ns_for(binance, 418, -1) == 120 * kS);
  CHECK(block_ns_for(okx, 418, -1) == 120 * kS);
  CHECK(block_ns_for(binance, 418, 3 * 24 * 3600) == 3 * 24 * 3600 * kS);  // a 3-day ban
  CHECK(block_ns_for(binance, 418, 1'000'000'000) == 7 * 24 * 3600 * kS);  // capped, no overflow
  CHECK(block_ns_for(binance, 200, 30) == 0);
  CHECK(block_ns_for(binance, 503, 30) == 0);
  rest_budget_state s{binance};
  s.observe_answer(200, 120, -1, kT0);
  CHECK(s.blocked_until == 0);
  s.observe_answer(418, -1, -1, kT0);
  CHECK(s.try_spend(5, kT0 + 119 * kS).reason == budget_reason::retry_after);
  CHECK(s.try_spend(5, kT0 + 120 * kS).granted());
}

TEST_CASE("costs that can never be granted are refused, not deferred") {
  rest_budget_state b{default_venue_limits(venue::binance).rest};
  CHECK(b.try_spend(0, kT0).reason == budget_reason::zero_cost);
  CHECK(b.try_spend(3001, kT0).reason == budget_reason::too_heavy);
  CHECK(b.try_spend(3001, kT0).outcome == budget_outcome::refused);
  b.observe_retry_after(kT0 + kMinute);
  CHECK(b.try_spend(3001, kT0).outcome == budget_outcome::refused);  // refusal wins over a block
  rest_budget_state o{default_venue_limits(venue::okx).rest};
  CHECK(o.try_spend(15, kS).granted());  // the whole burst
  CHECK(o.try_spend(16, 10 * kS).reason == budget_reason::too_heavy);
  CHECK(b.word == 0);  // refusals spend nothing
}

TEST_CASE("a process whose clock read is older than another's rollover is told to re-read, not granted") {
  const rate_limit l = default_venue_limits(venue::binance).rest;
  std::uint64_t w = 0;
  REQUIRE(rate_try(l, w, 3000, kT0 + kMinute + 1).granted());  // minute 1 is full
  const budget_decision d = rate_try(l, w, 5, kT0 + kMinute - 1);  // a stale read in minute 0
  CHECK(d.outcome == budget_outcome::wait);
  CHECK(d.reason == budget_reason::clock_behind);
  CHECK(d.wait_until_ns == kT0 + kMinute);
  CHECK(d.retry_in_ns == 1);
  CHECK(rate_in_use(l, w, kT0 + kMinute) == 3000);
}

TEST_CASE("a wall clock stepped back by minutes counts on in the earlier minute instead of stalling") {
  const rate_limit l = default_venue_limits(venue::binance).rest;
  std::uint64_t w = 0;
  REQUIRE(rate_try(l, w, 2000, kT0 + 10 * kMinute).granted());
  const std::int64_t back = kT0 + 3 * kMinute;  // NTP stepped the clock back 7 minutes
  CHECK(rate_try(l, w, 1000, back).granted());    // the count carried over: 3000
  CHECK(rate_try(l, w, 1, back).reason == budget_reason::window_full);
  CHECK(rate_in_use(l, w, back) == 3000);
  // The clock back at minute 10: a new window as far as the word is concerned.
  CHECK(rate_observe_used(l, w, 100, kT0 + 10 * kMinute + 5));
  CHECK(rate_try(l, w, 5, kT0 + 10 * kMinute + 5).granted());
  CHECK(rate_in_use(l, w, kT0 + 10 * kMinute + 5) == 105);
}

TEST_CASE("fixed windows compare indexes as serial numbers across the 2^32 wrap") {
  const rate_limit l{window_kind::fixed, 10, kMs};
  const std::int64_t wrap = (std::int64_t{1} << 32) * kMs;  // window index 2^32 ≡ 0
  std::uint64_t w = 0;
  REQUIRE(rate_try(l, w, 10, wrap - kMs).granted());  // index 2^32 - 1
  CHECK(rate_try(l, w, 1, wrap - 1).reason == budget_reason::window_full);
  CHECK(rate_try(l, w, 10, wrap).granted());  // index 2^32: a later window, not an earlier one
  CHECK(rate_try(l, w, 1, wrap - 1).reason == budget_reason::clock_behind);
  CHECK(rate_try(l, w, 1, wrap + 5 * kMs).granted());
}

TEST_CASE("a fresh word in window 0 is not mistaken for a used one") {
  const rate_limit l{window_kind::fixed, 10, kMs};
  std::uint64_t w = 0;
  CHECK(rate_in_use(l, w, 0) == 0);
  REQUIRE(rate_try(l, w, 10, 0).granted());
  CHECK(rate_in_use(l, w, 0) == 10);
  CHECK(rate_try(l, w, 1, 1).reason == budget_reason::window_full);
}

TEST_CASE("Binance weight over a simulated hour of greedy random demand: no calendar minute ever exceeds 3000") {
  std::mt19937_64 rng(42);
  rest_budget_state s{default_venue_limits(venue::binance).rest};
  std::vector<grant> grants;
  const std::uint32_t costs[] = {5, 25, 50, 250, 20, 4};
  std::int64_t t = kT0 + 123 * kMs;
  while (t < kT0 + 60 * kMinute) {
    const std::uint32_t c = costs[rng() % 6];
    const budget_decision d = s.try_spend(c, t);
    if (d.granted()) grants.push_back({t, c});
    if (rng() % 97 == 0) s.observe_used_weight(rng() % 1500, t);  // other programs, now and then
    t += static_cast<std::int64_t>(rng() % (200 * kMs));
  }
  const auto per = per_fixed_window(grants, kMinute);
  CHECK(per.size() == 60);
  std::uint64_t total = 0;
  for (const auto& [minute, units] : per) {
    REQUIRE(units <= 3000);
    total += units;
  }
  CHECK(total >= 60 * (3000 - 250));  // every minute fills up to within one request
}

TEST_CASE("OKX books: a burst of 15, then one every 133 ms, and no closed 2 s interval above 30") {
  rest_budget_state s{default_venue_limits(venue::okx).rest};
  const std::int64_t t0 = 5 * kS;
  for (int i = 0; i < 15; ++i) REQUIRE(s.try_spend(1, t0).granted());
  const budget_decision d = s.try_spend(1, t0);
  CHECK(d.reason == budget_reason::window_full);
  CHECK(d.wait_until_ns == t0 + 133'333'334);
  CHECK(s.try_spend(1, d.wait_until_ns).granted());
  // Greedy at 1 ms steps for a simulated minute, with instruments (cost 2) mixed in.
  std::vector<grant> g;
  std::mt19937 rng(7);
  for (std::int64_t t = t0 + kS; t < t0 + 61 * kS; t += kMs) {
    const std::uint32_t c = rng() % 4 == 0 ? okx_rest_cost(kOkxInstrumentsPer2s) : 1;
    if (s.try_spend(c, t).granted()) g.push_back({t, c});
  }
  CHECK(max_in_any_window(g, 2 * kS) <= 30);
  std::uint64_t units = 0;
  for (const auto& x : g) units += x.cost;
  CHECK(units >= 440);  // 60 s at 7.5 units/s, minus at most the burst
  CHECK(units <= 15 + 451);
}

TEST_CASE("a 429 from OKX (code 50011) blocks for one 2 s window") {
  rest_budget_state s{default_venue_limits(venue::okx).rest};
  s.observe_answer(429, -1, -1, 10 * kS);
  CHECK(s.try_spend(1, 10 * kS + 1999 * kMs).reason == budget_reason::retry_after);
  CHECK(s.try_spend(1, 12 * kS).granted());
}

TEST_CASE("OKX connections: at most 2 attempts in any closed second, one per second when hammered") {
  connect_pace_state p{default_venue_limits(venue::okx).connect};
  std::vector<grant> g;
  for (std::int64_t t = kS; t < 31 * kS; t += kMs)
    if (p.try_attempt(t).granted()) g.push_back({t, 1});
  CHECK(max_in_any_window(g, kS) <= 2);
  CHECK(max_in_any_window(g, kS - 1) <= 1);
  CHECK(g.size() == 30);
  const budget_decision d = p.try_attempt(31 * kS - kMs);
  CHECK(d.outcome == budget_outcome::wait);
  CHECK(d.wait_until_ns == 31 * kS);
}

TEST_CASE("Binance connections: 75 at once, then one per 4 s, never more than 150 in any 5 minutes") {
  connect_pace_state p{default_venue_limits(venue::binance).connect};
  std::vector<grant> g;
  for (int i = 0; i < 80; ++i)  // a crash loop of every slot at once
    if (p.try_attempt(kS).granted()) g.push_back({kS, 1});
  CHECK(g.size() == 75);
  for (std::int64_t t = kS + 10 * kMs; t < 31 * kMinute; t += 10 * kMs)
    if (p.try_attempt(t).granted()) g.push_back({t, 1});
  CHECK(max_in_any_window(g, 300 * kS) <= 150);
  CHECK(max_in_any_window(g, 300 * kS) >= 149);
  CHECK(g.size() == 75 + 464);  // then one at 5 s, 9 s, ... 1857 s
}

TEST_CASE("sliding windows hold for any limit and out-of-order clocks of racing processes") {
  std::mt19937_64 rng(1234);
  for (int round = 0; round < 200; ++round) {
    const rate_limit l{window_kind::sliding, static_cast<std::uint32_t>(1 + rng() % 60),
                       static_cast<std::int64_t>(1 + rng() % 3000) * kMs};
    const gcra_params gp = gcra_for(l);
    std::uint64_t w = 0;
    std::vector<grant> g;
    std::int64_t t = l.window_ns + static_cast<std::int64_t>(rng() % (10 * kS));
    for (int i = 0; i < 3000; ++i) {
      t += static_cast<std::int64_t>(rng() % (l.window_ns / 8 + 1));
      // A racing process's clock read may be up to a window/4 old when its CAS lands.
      const std::int64_t stale = t - static_cast<std::int64_t>(rng() % (l.window_ns / 4 + 1));
      const std::uint32_t c = 1 + static_cast<std::uint32_t>(rng() % gp.burst);
      if (rate_try(l, w, c, stale).granted()) g.push_back({stale, c});
    }
    INFO("budget " << l.budget << " window " << l.window_ns);
    REQUIRE(max_in_any_window(g, l.window_ns) <= l.budget);
  }
}

TEST_CASE("fixed windows hold for any limit under random costs and header raises") {
  std::mt19937_64 rng(99);
  for (int round = 0; round < 200; ++round) {
    const rate_limit l{window_kind::fixed, static_cast<std::uint32_t>(1 + rng() % 500),
                       static_cast<std::int64_t>(1 + rng() % 5000) * kMs};
    std::uint64_t w = 0;
    std::vector<grant> g;
    std::int64_t t = kT0;
    for (int i = 0; i < 3000; ++i) {
      t += static_cast<std::int64_t>(rng() % (l.window_ns / 16 + 1));
      const std::uint32_t c = 1 + static_cast<std::uint32_t>(rng() % l.budget);
      if (rate_try(l, w, c, t).granted()) g.push_back({t, c});
      if (rng() % 50 == 0) rate_observe_used(l, w, rng() % (2 * l.budget), t);
      if (rng() % 200 == 0) rate_saturate(l, w, t);
    }
    for (const auto& [idx, units] : per_fixed_window(g, l.window_ns)) REQUIRE(units <= l.budget);
  }
}

TEST_CASE("rate_in_use reports a sliding window's owed units and zero when idle") {
  const rate_limit l = default_venue_limits(venue::okx).rest;
  std::uint64_t w = 0;
  CHECK(rate_in_use(l, w, kS) == 0);
  for (int i = 0; i < 5; ++i) REQUIRE(rate_try(l, w, 1, kS).granted());
  CHECK(rate_in_use(l, w, kS) == 5);
  CHECK(rate_in_use(l, w, 10 * kS) == 0);
  CHECK(rate_saturate(l, w, 10 * kS));
  CHECK(rate_in_use(l, w, 10 * kS) == 15);
  CHECK_FALSE(rate_saturate(l, w, 10 * kS));
  CHECK_FALSE(rate_observe_used(l, w, 100, 10 * kS));  // no header raise on sliding windows
}
