#pragma once
/// Deterministic random numbers for the simulated market: xoshiro256** seeded by splitmix64,
/// so a seed reproduces the same book operations on every machine and build.
#include <cstdint>
#include <string_view>

namespace mdbus::exsim {

class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept {
    for (auto& s : s_) s = splitmix(seed);
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [lo, hi] (inclusive); the tiny modulo bias does not matter for a simulation.
  std::int64_t between(std::int64_t lo, std::int64_t hi) noexcept {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::int64_t>(next() % span);
  }

  /// True with probability percent/100.
  bool chance(unsigned percent) noexcept { return next() % 100 < percent; }

  /// A seed derived from a base seed and a name (per-instrument streams of randomness).
  static std::uint64_t derive(std::uint64_t seed, std::string_view name) noexcept {
    std::uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;
    for (const char c : name) h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
    return h;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4]{};
};

}  // namespace mdbus::exsim
