#pragma once
/// Reconnect pacing: capped exponential backoff with jitter. A reconnect storm gets the IP
/// banned (feeders/CONFORMANCE.md: Binance 300 connection attempts per 5 min per IP, OKX 3 per second),
/// so pacing is correctness, not politeness: the delay doubles from `min` up to `max` and
/// only resets once a connection stayed healthy (the caller decides when: reset()).
///
/// Jitter ("equal jitter"): the delay is uniform in [d/2, d], so slots that lost their
/// connections together (a venue restart) do not come back in lockstep, yet no attempt
/// comes sooner than half the nominal delay.
#include <cstdint>

namespace mdbus::feed {

class backoff {
 public:
  /// min_ms >= 1, max_ms >= min_ms (the config validates both). `seed`: any value; pid and
  /// time make two slots differ.
  backoff(std::int64_t min_ms, std::int64_t max_ms, std::uint64_t seed) noexcept
      : min_ms_(min_ms < 1 ? 1 : min_ms), max_ms_(max_ms < min_ms_ ? min_ms_ : max_ms), state_(seed | 1) {}

  /// The delay before the next attempt, in ms; each call counts one more failure.
  [[nodiscard]] std::int64_t next_delay_ms() noexcept {
    std::int64_t d = min_ms_;
    for (unsigned i = 0; i < attempt_ && d < max_ms_; ++i) d *= 2;
    if (d > max_ms_) d = max_ms_;
    if (attempt_ < 63) ++attempt_;
    const std::int64_t half = d / 2;
    return half + static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(d - half + 1));
  }

  /// Back to `min` after a healthy connection.
  void reset() noexcept { attempt_ = 0; }
  [[nodiscard]] unsigned attempt() const noexcept { return attempt_; }

 private:
  /// splitmix64: tiny, seedable, good enough for jitter.
  std::uint64_t random() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::int64_t min_ms_;
  std::int64_t max_ms_;
  std::uint64_t state_;
  unsigned attempt_ = 0;
};

}  // namespace mdbus::feed
