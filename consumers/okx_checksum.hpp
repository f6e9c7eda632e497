#pragma once
/// The OKX order-book checksum (shared/VENUES.md, OKX "Checksum"): CRC-32 (zlib's), as a
/// signed 32-bit integer, of the top 25 levels interleaved "bidPx:bidSz:askPx:askSz:…";
/// when one side runs out, the other side's remaining levels follow alone. Prices and sizes
/// are the venue's own text, which is why records keep the venue's scale: to_chars of a
/// stored decimal gives the text back digit for digit.
///
/// Header-only and allocation-free: the text is hashed as it is produced, 25 × 4 numbers
/// of at most kMaxDecimalChars each, never assembled into a string.
#include "bus/decimal.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace mdbus {

inline constexpr std::size_t kOkxChecksumLevels = 25;

namespace detail {

constexpr std::array<std::uint32_t, 256> make_crc32_table() noexcept {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
inline constexpr auto kCrc32Table = make_crc32_table();

/// Incremental CRC-32 (IEEE 802.3, reflected, as zlib's crc32).
class crc32_state {
 public:
  constexpr void update(std::string_view bytes) noexcept {
    for (const char ch : bytes) c_ = kCrc32Table[(c_ ^ static_cast<std::uint8_t>(ch)) & 0xFFU] ^ (c_ >> 8);
  }
  [[nodiscard]] constexpr std::uint32_t value() const noexcept { return c_ ^ 0xFFFFFFFFU; }

 private:
  std::uint32_t c_ = 0xFFFFFFFFU;
};

}  // namespace detail

/// zlib crc32 of `bytes`.
[[nodiscard]] constexpr std::uint32_t crc32(std::string_view bytes) noexcept {
  detail::crc32_state s;
  s.update(bytes);
  return s.value();
}

/// The OKX checksum of a book whose sides are given best first: `bid(i)` and `ask(i)` return
/// a {px, qty} pair (anything with .px and .qty decimals) for i < the side's size.
template <class BidAt, class AskAt>
[[nodiscard]] std::int32_t okx_checksum(std::size_t bid_count, BidAt&& bid, std::size_t ask_count,
                                        AskAt&& ask) noexcept {
  detail::crc32_state crc;
  bool first = true;
  auto add = [&](decimal px, decimal qty) {
    std::array<char, kMaxDecimalChars> buf{};
    if (!first) crc.update(":");
    first = false;
    crc.update({buf.data(), to_chars(px, buf)});
    crc.update(":");
    crc.update({buf.data(), to_chars(qty, buf)});
  };
  for (std::size_t i = 0; i < kOkxChecksumLevels; ++i) {
    if (i < bid_count) {
      const auto& l = bid(i);
      add(l.px, l.qty);
    }
    if (i < ask_count) {
      const auto& l = ask(i);
      add(l.px, l.qty);
    }
  }
  return static_cast<std::int32_t>(crc.value());
}

}  // namespace mdbus
