#pragma once
/// The streams one connection subscribed to (venue_adapter::set_subscriptions), looked up on
/// the hot path without allocating. Internal to feeders/.
#include "mdbus/venue.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mdbus::feed::detail {

/// The streams one connection subscribed to, for an allocation-free membership test on the
/// hot path: open addressing over (tag, key) pairs, built at set-up. The tag is a channel
/// value (or 0 for "any channel: the key names the stream", Binance's combined stream
/// name); the stored value is the stream's channel.
class stream_table {
 public:
  /// Set-up time: allocates.
  void clear() {
    keys_.clear();
    slots_.clear();
    count_ = 0;
  }
  void add(std::uint8_t tag, std::string_view key, channel value);
  /// The channel stored for (tag, key), or channel::unknown when absent.
  [[nodiscard]] channel find(std::uint8_t tag, std::string_view key) const noexcept {
    if (slots_.empty()) return channel::unknown;
    const std::uint64_t h = hash(tag, key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& sl = slots_[i];
      if (sl.len == kEmpty) return channel::unknown;
      if (sl.hash == h && sl.tag == tag && sl.len == key.size() && std::memcmp(keys_.data() + sl.offset, key.data(), key.size()) == 0)
        return sl.value;
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  static constexpr std::uint16_t kEmpty = 0xFFFF;
  struct slot {
    std::uint64_t hash = 0;
    std::uint32_t offset = 0;
    std::uint16_t len = kEmpty;
    std::uint8_t tag = 0;
    channel value = channel::unknown;
  };
  /// Length, tag and the first and last 8 bytes: stream names and symbols differ there
  /// ("btcusdt@trade" / "ethusdt@trade", "…@trade" / "…@aggTrade"); equal hashes only cost
  /// a probe, the full compare decides.
  [[nodiscard]] static std::uint64_t hash(std::uint8_t tag, std::string_view k) noexcept {
    std::uint64_t a = 0, b = 0;
    if (k.size() >= 8) {
      std::memcpy(&a, k.data(), 8);
      std::memcpy(&b, k.data() + k.size() - 8, 8);
    } else {
      for (std::size_t i = 0; i < k.size(); ++i) a |= static_cast<std::uint64_t>(static_cast<unsigned char>(k[i])) << (8 * i);
    }
    std::uint64_t h = (a ^ (static_cast<std::uint64_t>(k.size()) << 56) ^ tag) * 0x9E3779B97F4A7C15ULL;
    h ^= (b + (h >> 29)) * 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 31);
  }
  void rebuild(std::size_t capacity);

  std::string keys_;
  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
};

}  // namespace mdbus::feed::detail
