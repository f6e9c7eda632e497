#pragma once
/// A record's (channel, symbol) → its stream's position in the venue's configured symbols ×
/// channels (symbol-major, as subscriptions are built): the stale watch's stream numbers.
/// Built at start (allocates). of() is the feeder's per-record lookup: the header's 24-byte
/// NUL-padded symbol read as three words, one multiply-hash, an open-addressing probe and
/// three word compares — no string hashing, no allocation (bench/stream_watch_bench).
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mdbus::feed {

class stream_index {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  stream_index() = default;
  stream_index(const std::vector<std::string>& symbols, const std::vector<channel>& channels) : size_(symbols.size() * channels.size()) {
    std::size_t cap = 16;
    while (cap < 2 * size_) cap *= 2;
    slots_.assign(cap, slot{});
    mask_ = cap - 1;
    for (std::size_t si = 0; si < symbols.size(); ++si)
      for (std::size_t ci = 0; ci < channels.size(); ++ci) {
        record_header h{};
        h.channel_id = channels[ci];
        (void)h.set_symbol(symbols[si]);
        const key k = key_of(h);
        std::size_t i = hash(k) & mask_;
        while (slots_[i].used && !(slots_[i].k == k)) i = (i + 1) & mask_;
        if (!slots_[i].used) slots_[i] = {k, si * channels.size() + ci, true};  // depth and depth@100ms share an id: the first
      }
  }

  /// The record's stream position, or npos for a stream the config does not have.
  [[nodiscard]] std::size_t of(const record_header& h) const noexcept {
    if (slots_.empty()) return npos;
    const key k = key_of(h);
    for (std::size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (!s.used) return npos;
      if (s.k == k) return s.index;
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct key {
    std::uint64_t w[3];
    std::uint64_t ch;
    bool operator==(const key& o) const noexcept { return w[0] == o.w[0] && w[1] == o.w[1] && w[2] == o.w[2] && ch == o.ch; }
  };
  static_assert(kSymbolCapacity == 3 * sizeof(std::uint64_t));
  struct slot {
    key k{};
    std::size_t index = 0;
    bool used = false;
  };
  static key key_of(const record_header& h) noexcept {
    key k;
    std::memcpy(k.w, h.symbol, sizeof k.w);
    k.ch = static_cast<std::uint64_t>(h.channel_id);
    return k;
  }
  static std::uint64_t hash(const key& k) noexcept {
    std::uint64_t x = (k.w[0] ^ (k.w[1] * 0x9E3779B97F4A7C15ULL) ^ (k.w[2] * 0xC2B2AE3D27D4EB4FULL) ^ k.ch) * 0xBF58476D1CE4E5B9ULL;
    return x ^ (x >> 31);
  }
  std::vector<slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace mdbus::feed
