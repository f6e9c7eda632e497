#pragma once
/// A venue stream's identity as records carry it (venue, channel, symbol), for tables keyed
/// by stream: the merger's arbiter and mdbridge's subscriber. Fixed size, no allocation.
#include "mdbus/records.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mdbus {

struct stream_key {
  venue v = venue::unknown;
  channel c = channel::unknown;
  std::array<char, kSymbolCapacity> symbol{};
  bool operator==(const stream_key&) const noexcept = default;

  /// The key of the stream `h` belongs to (its symbol bytes as stored, NUL padding included).
  [[nodiscard]] static stream_key of(const record_header& h) noexcept {
    stream_key k{h.venue_id, h.channel_id, {}};
    std::memcpy(k.symbol.data(), h.symbol, kSymbolCapacity);
    return k;
  }
};

struct stream_key_hash {
  /// On every record the merger is offered: three 8-byte words of symbol and one of
  /// venue/channel, mixed with multiplies (a byte-at-a-time hash over 26 bytes is a serial
  /// chain of 26 multiplies).
  std::size_t operator()(const stream_key& k) const noexcept {
    static_assert(kSymbolCapacity == 24);
    std::uint64_t w[3];
    std::memcpy(w, k.symbol.data(), sizeof w);
    std::uint64_t h = (std::uint64_t{static_cast<std::uint8_t>(k.v)} << 8 | static_cast<std::uint8_t>(k.c)) ^ 0x9e3779b97f4a7c15ULL;
    for (const std::uint64_t x : w) {
      h = (h ^ x) * 0xbf58476d1ce4e5b9ULL;
      h ^= h >> 31;
    }
    return static_cast<std::size_t>(h);
  }
};

}  // namespace mdbus
