#pragma once
/// A log-linear latency histogram (the HdrHistogram idea, sized for nanoseconds): 8 linear
/// sub-buckets per power of two, so every bucket is within 12.5 % of its values, from 1 ns to
/// ~2^40 ns (18 minutes); fixed size, no allocation when recording. Negative values (clocks
/// of two machines, or a venue time stamped after our receive) are counted apart, not folded in.
#include <array>
#include <bit>
#include <cstdint>

namespace mdbus::examples {

class latency_histogram {
 public:
  static constexpr int kSubBits = 3;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxPow = 40;
  static constexpr std::size_t kBuckets = (kMaxPow + 1) * kSub;

  void record(std::int64_t ns) noexcept {
    if (ns < 0) {
      ++negative_;
      return;
    }
    ++buckets_[index(static_cast<std::uint64_t>(ns))];
    ++count_;
    sum_ += ns;
    if (ns > max_) max_ = ns;
    if (count_ == 1 || ns < min_) min_ = ns;
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t negative() const noexcept { return negative_; }
  [[nodiscard]] std::int64_t max() const noexcept { return max_; }
  [[nodiscard]] std::int64_t min() const noexcept { return min_; }
  [[nodiscard]] double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }

  /// Upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
  [[nodiscard]] std::int64_t quantile(double q) const noexcept {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= rank) return upper(i) < max_ ? upper(i) : max_;
    }
    return max_;
  }

  /// f(lower_ns, upper_ns, count) for every non-empty bucket, ascending.
  template <class F>
  void for_each_bucket(F&& f) const {
    for (std::size_t i = 0; i < kBuckets; ++i)
      if (buckets_[i] != 0) f(lower(i), upper(i), buckets_[i]);
  }

  void reset() noexcept { *this = latency_histogram{}; }

 private:
  // Values below kSub get their own bucket; above, the top kSubBits + 1 bits pick it.
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    int pow = std::bit_width(v) - 1;  // v in [2^pow, 2^(pow+1))
    if (pow > kMaxPow) return kBuckets - 1;
    const auto sub = static_cast<std::size_t>((v >> (pow - kSubBits)) & (kSub - 1));
    return static_cast<std::size_t>(pow - kSubBits + 1) * kSub + sub;
  }
  static std::int64_t lower(std::size_t i) noexcept {
    if (i < kSub) return static_cast<std::int64_t>(i);
    const int pow = static_cast<int>(i / kSub) + kSubBits - 1;
    return static_cast<std::int64_t>((std::uint64_t{kSub} + i % kSub) << (pow - kSubBits));
  }
  static std::int64_t upper(std::size_t i) noexcept {
    if (i < kSub) return static_cast<std::int64_t>(i);
    const int pow = static_cast<int>(i / kSub) + kSubBits - 1;
    return lower(i) + (std::int64_t{1} << (pow - kSubBits)) - 1;
  }

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t negative_ = 0;
  std::int64_t sum_ = 0;
  std::int64_t max_ = 0;
  std::int64_t min_ = 0;
};

}  // namespace mdbus::examples
