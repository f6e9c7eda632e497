#pragma once
// Deterministic frame contents derived from a sequence number, so a reader in another
// process can check every byte of every frame without being told what was written.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace mdbus::test {

constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Payload length for frame `seq`: between 8 and max_len bytes.
constexpr std::uint32_t pattern_length(std::uint64_t seq, std::uint32_t max_len) noexcept {
  return static_cast<std::uint32_t>(8 + splitmix64(seq) % (max_len - 8 + 1));
}

constexpr std::byte pattern_byte(std::uint64_t seq, std::size_t i) noexcept {
  return static_cast<std::byte>((seq * 131 + i * 7 + (seq >> 8)) & 0xFF);
}

inline void fill_pattern(std::span<std::byte> out, std::uint64_t seq) noexcept {
  std::memcpy(out.data(), &seq, 8);
  for (std::size_t i = 8; i < out.size(); ++i) out[i] = pattern_byte(seq, i);
}

/// True if `payload` is exactly frame `seq` with length pattern_length(seq, max_len).
inline bool check_pattern(std::span<const std::byte> payload, std::uint64_t seq, std::uint32_t max_len) noexcept {
  if (payload.size() != pattern_length(seq, max_len)) return false;
  std::uint64_t got = 0;
  std::memcpy(&got, payload.data(), 8);
  if (got != seq) return false;
  for (std::size_t i = 8; i < payload.size(); ++i)
    if (payload[i] != pattern_byte(seq, i)) return false;
  return true;
}

}  // namespace mdbus::test
