#pragma once
/// The pure decision core of a venue's REST budget and connection-attempt pace
/// (ARCHITECTURE.md "Venues as data": one REST budget and one connection-attempt pace per venue
/// and IP, shared by every process of a bus). No I/O, no clock reads: time comes in as an
/// argument, state is one or two 64-bit words, so the same step functions run on a plain
/// struct in unit tests and under a CAS loop on shared memory (bus/venue_budget.hpp).
///
/// Two kinds of window:
/// * `fixed`: at most `budget` units in each window [k·W, (k+1)·W) of the clock. Binance's
///   request weight is counted per calendar minute and every answer reports the IP's use in
///   the current minute (`X-MBX-USED-WEIGHT-1M`), so our count can be raised to it.
///   State word: window index (32 bits, compared with serial-number arithmetic) | used (32).
///   A `now` one window behind the word is a stale read (clock_behind: re-read); further
///   behind, the wall clock stepped back and counting goes on in `now`'s window with the
///   count carried, rather than stalling REST for the length of the step.
/// * `sliding`: GCRA (generic cell rate algorithm, a token bucket kept as one "theoretical
///   arrival time" word). Burst B = max(1, budget/2) units, emission interval
///   T = ceil(W / (budget − B)) (W + 1 when budget == B). Any closed interval of length W
///   then holds at most B + floor(W/T) <= budget granted units, whatever the venue's window
///   alignment, the process clocks' order or the interleaving of processes (proof in
///   venue_budget_core.cpp). Used where a venue's window is not documented as calendar-aligned.
#include "mdbus/venue.hpp"
#include "mdbus/venues/registry.hpp"

#include <cstdint>

namespace mdbus {

enum class window_kind : std::uint8_t { fixed = 1, sliding = 2 };

/// At most `budget` units per window of `window_ns`. `budget` is what we allow ourselves
/// (the documented limit times our fraction), not the venue's figure.
struct rate_limit {
  window_kind kind = window_kind::sliding;
  std::uint32_t budget = 0;   ///< 1 .. kMaxBudget units per window
  std::int64_t window_ns = 0; ///< a whole number of ms, 1 ms .. 2^32-1 ms
  friend bool operator==(const rate_limit&, const rate_limit&) = default;
};

/// A venue's two paces, as every process of a bus must agree on them.
struct venue_limits {
  rate_limit rest;     ///< REST units (Binance request weight; OKX cost units, see okx_rest_cost)
  rate_limit connect;  ///< WebSocket connection attempts (always sliding)
  friend bool operator==(const venue_limits&, const venue_limits&) = default;
};

inline constexpr std::uint32_t kMaxBudget = 1u << 30;

/// "" when usable, else what is wrong ("rest: budget 0 ..."). Pure.
[[nodiscard]] const char* validate(const rate_limit& l) noexcept;

/// floor(documented × fraction), at least 1. `fraction` in (0, 1]; out-of-range → 1.
[[nodiscard]] std::uint32_t scaled_budget(std::uint32_t documented, double fraction) noexcept;

// The venues' documented figures and REST weights are in their descriptors' headers
// (bus/include/mdbus/venues/binance.hpp, bus/include/mdbus/venues/okx.hpp); the descriptors' `limits` carry the paces.

/// The venue's limits scaled by our fractions:
/// * Binance REST: fixed calendar minute, 50 % → 3000 weight. Half, because a fixed window
///   on our clock and one on Binance's are never exactly aligned: with any clock offset one
///   Binance minute overlaps two of ours, so two full budgets of ours fit in one of theirs —
///   50 % keeps even that at the limit. The header raise (observe_used_weight) counts other
///   programs on the IP, and in-flight requests fit in the rest.
/// * Binance connect: sliding, 50 % → 150 per 5 min (B 75, one more every 4 s). The bus needs
///   a handful per day (2 slots per group, a rotation per 24 h); the pace only bites in a
///   crash loop, and other programs on the IP (another bus, a user-data stream) keep half.
/// * OKX REST: sliding, 75 % → 30 books-request units per 2 s. A sliding window holds in every
///   2 s interval whatever OKX's alignment, so no skew margin is needed; 25 % is left for
///   other programs and in-flight requests.
/// * OKX connect: sliding, 75 % of 3/s rounds down to 2 per any closed 1 s interval (B 1,
///   one more every 1 s).
/// Unknown venue: a conservative 1 unit per second for both. The figures and fractions are
/// the venue descriptor's `limits`.
[[nodiscard]] venue_limits default_venue_limits(venue v) noexcept;
/// The same with other fractions (config), each in (0, 1].
[[nodiscard]] venue_limits venue_limits_for(venue v, double rest_fraction, double connect_fraction) noexcept;

// ---- Decisions ----

enum class budget_outcome : std::uint8_t {
  granted,  ///< go: the units are spent
  wait,     ///< not now: try again at wait_until_ns
  refused,  ///< never: cost 0 or larger than a whole window's budget (a caller bug)
};

enum class budget_reason : std::uint8_t {
  none,         ///< granted
  window_full,  ///< the window's budget is spent
  retry_after,  ///< a 429/418 blocks every process of the bus until wait_until_ns
  clock_behind, ///< another process is already in a later window: re-read the clock, retry
  too_heavy,    ///< refused: cost > budget (fixed) or > burst (sliding)
  zero_cost,    ///< refused: cost 0
  read_only,    ///< refused: the budget was opened read-only (a tool)
};

constexpr const char* to_string(budget_reason r) noexcept {
  switch (r) {
    case budget_reason::none: return "granted";
    case budget_reason::window_full: return "window full";
    case budget_reason::retry_after: return "blocked by the venue's Retry-After";
    case budget_reason::clock_behind: return "clock behind another process";
    case budget_reason::too_heavy: return "cost above a window's budget";
    case budget_reason::zero_cost: return "cost 0";
    case budget_reason::read_only: return "opened read-only";
  }
  return "unknown";
}

struct budget_decision {
  budget_outcome outcome = budget_outcome::refused;
  budget_reason reason = budget_reason::none;
  std::int64_t wait_until_ns = 0;  ///< for wait: earliest time a retry can be granted (same clock as `now`)
  std::int64_t retry_in_ns = 0;    ///< for wait: wait_until_ns − now, >= 0 (what a timer wants)
  [[nodiscard]] bool granted() const noexcept { return outcome == budget_outcome::granted; }
};

/// Decision constructors (retry_in_ns = max(0, until − now)).
[[nodiscard]] budget_decision budget_granted() noexcept;
[[nodiscard]] budget_decision budget_refused(budget_reason why) noexcept;
[[nodiscard]] budget_decision budget_wait(budget_reason why, std::int64_t until, std::int64_t now) noexcept;

/// Sliding-window (GCRA) parameters derived from a limit; see the file comment.
struct gcra_params {
  std::int64_t interval_ns;  ///< T, per unit
  std::uint32_t burst;       ///< B, units
};
[[nodiscard]] gcra_params gcra_for(const rate_limit& l) noexcept;

/// refused's reason for a cost that can never be granted (0, or above a whole window's
/// budget / the sliding burst), or none.
[[nodiscard]] budget_reason rate_refusal(const rate_limit& l, std::uint32_t cost) noexcept;

// ---- Step functions on one state word (the whole pure core) ----
// `word` is the limit's state (0 = fresh). Each returns the decision and updates `word` in
// place only when it grants (or raises); a caller under CAS publishes `word` and retries
// on failure. `now` is in the limit's clock (CLOCK_REALTIME for fixed windows, so they
// follow the calendar; CLOCK_MONOTONIC for sliding ones), >= 0.

/// Spend `cost` units at `now`, or say when to retry.
[[nodiscard]] budget_decision rate_try(const rate_limit& l, std::uint64_t& word, std::uint32_t cost,
                                       std::int64_t now) noexcept;

/// Fixed windows: raise the current window's count to `used` (a venue header reporting the
/// IP's use, which includes other programs). Never lowers. Sliding windows: no effect.
/// Returns whether the word changed.
bool rate_observe_used(const rate_limit& l, std::uint64_t& word, std::uint64_t used, std::int64_t now) noexcept;

/// Mark the budget exhausted at `now` (the venue said 429): fixed → the rest of this window,
/// sliding → a full burst's worth. Returns whether the word changed.
bool rate_saturate(const rate_limit& l, std::uint64_t& word, std::int64_t now) noexcept;

/// Units counted in the window containing `now` (fixed), or units still "owed" (sliding:
/// ceil((TAT − now) / T), 0 when idle). For tools.
[[nodiscard]] std::uint64_t rate_in_use(const rate_limit& l, std::uint64_t word, std::int64_t now) noexcept;

/// A block (429/418 `Retry-After`) as a decision: wait until `blocked_until` if now is before it.
[[nodiscard]] inline bool blocked_at(std::int64_t blocked_until, std::int64_t now) noexcept {
  return now < blocked_until;
}

/// How long a 429/418 blocks every process. `retry_after_s` >= 0: that many seconds (the
/// venue's Retry-After, capped at 7 days); < 0 (absent): one window for 429, and for 418 the
/// documented minimum ban of 2 minutes (Binance rest-api.md "LIMITS", 2026) or one window if
/// longer. Other statuses: 0.
[[nodiscard]] std::int64_t block_ns_for(const rate_limit& rest, int http_status, std::int64_t retry_after_s) noexcept;

// ---- Plain-value states: the same steps on private memory (tests, one-process users) ----

/// One venue's REST budget. Not thread-safe; bus/venue_budget.hpp is the shared version.
struct rest_budget_state {
  rate_limit limit;
  std::uint64_t word = 0;
  std::int64_t blocked_until = 0;  ///< in the limit's clock; 0 = never blocked

  /// Blocked by a 429/418 → wait until then; else rate_try.
  [[nodiscard]] budget_decision try_spend(std::uint32_t cost, std::int64_t now) noexcept;
  /// X-MBX-USED-WEIGHT-1M (or any header reporting the IP's use in the current window).
  void observe_used_weight(std::uint64_t used, std::int64_t now) noexcept { rate_observe_used(limit, word, used, now); }
  /// No grant before `until` (only ever extends the block).
  void observe_retry_after(std::int64_t until) noexcept {
    if (until > blocked_until) blocked_until = until;
  }
  /// A REST answer: header raise, and for 429/418 block + saturate. used / retry_after_s < 0: absent.
  void observe_answer(int http_status, std::int64_t used, std::int64_t retry_after_s, std::int64_t now) noexcept;
};

/// One venue's connection-attempt pace.
struct connect_pace_state {
  rate_limit limit;
  std::uint64_t word = 0;
  [[nodiscard]] budget_decision try_attempt(std::int64_t now) noexcept { return rate_try(limit, word, 1, now); }
};

}  // namespace mdbus
