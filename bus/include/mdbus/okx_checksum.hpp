#pragma once
/// The OKX order-book checksum (feeders/CONFORMANCE.md "Book joins"), the one copy every part of
/// mdbus uses — the consumer book builder, exsim, and the tests: CRC-32 (zlib's), as a signed
/// 32-bit integer, of the top 25 levels interleaved "bidPx:bidSz:askPx:askSz:…"; when one
/// side runs out, the other side's remaining levels follow alone. Prices and sizes are the
/// venue's own text, which is why records keep the venue's scale: to_chars of a stored
/// decimal gives the text back digit for digit.
///
/// Header-only. The hot form (okx_checksum_builder<crc32_state>, okx_checksum) allocates
/// nothing: the text is hashed as it is produced, never assembled. okx_checksum_builder<std::string>
/// builds the text itself, for tests and logs.
#include "mdbus/decimal.hpp"

#include <array>
#include <cstdint>
#include <string>
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
}  // namespace detail

/// Incremental CRC-32 (IEEE 802.3, reflected, as zlib's crc32).
class crc32_state {
 public:
  constexpr void append(std::string_view bytes) noexcept {
    for (const char ch : bytes) c_ = detail::kCrc32Table[(c_ ^ static_cast<std::uint8_t>(ch)) & 0xFFU] ^ (c_ >> 8);
  }
  [[nodiscard]] constexpr std::uint32_t value() const noexcept { return c_ ^ 0xFFFFFFFFU; }

 private:
  std::uint32_t c_ = 0xFFFFFFFFU;
};

/// zlib crc32 of `bytes`.
[[nodiscard]] constexpr std::uint32_t crc32(std::string_view bytes) noexcept {
  crc32_state s;
  s.append(bytes);
  return s.value();
}

/// The CRC as OKX sends it: a signed 32-bit integer.
[[nodiscard]] constexpr std::int32_t okx_crc32(std::string_view bytes) noexcept {
  return static_cast<std::int32_t>(crc32(bytes));
}

/// Calls level(is_bid, i) for each level the checksum covers, in its order: bid 0, ask 0,
/// bid 1, ask 1, … up to kOkxChecksumLevels per side; once a side runs out the other's
/// remaining levels follow alone. Each side's i only grows, so a caller may walk iterators.
template <class F>
constexpr void okx_checksum_walk(std::size_t bid_count, std::size_t ask_count, F&& level) {
  for (std::size_t i = 0; i < kOkxChecksumLevels; ++i) {
    if (i < bid_count) level(true, i);
    if (i < ask_count) level(false, i);
  }
}

/// "px:qty" pieces joined by ':' into `Out`: crc32_state hashes them as they come (no
/// allocation), std::string collects the text. Feed it levels in okx_checksum_walk's order.
template <class Out>
class okx_checksum_builder {
 public:
  /// A level in the venue's text.
  void add(std::string_view px, std::string_view qty) {
    if (!first_) append(":");
    first_ = false;
    append(px);
    append(":");
    append(qty);
  }
  /// A level as stored decimals: to_chars gives the venue's text back (its scale is kept).
  void add(decimal px, decimal qty) {
    std::array<char, kMaxDecimalChars> p{}, q{};
    add(std::string_view{p.data(), to_chars(px, p)}, std::string_view{q.data(), to_chars(qty, q)});
  }
  [[nodiscard]] const Out& out() const noexcept { return out_; }
  /// The checksum of what was added (Out = crc32_state).
  [[nodiscard]] std::int32_t value() const noexcept { return static_cast<std::int32_t>(out_.value()); }

 private:
  void append(std::string_view s) { out_.append(s); }

  Out out_{};
  bool first_ = true;
};

/// The OKX checksum of a book whose sides are given best first: `bid(i)` and `ask(i)` return
/// a level with `.px` and `.qty` (decimals, or the venue's text) for i < the side's count.
/// Allocation-free.
template <class BidAt, class AskAt>
[[nodiscard]] std::int32_t okx_checksum(std::size_t bid_count, BidAt&& bid, std::size_t ask_count, AskAt&& ask) noexcept {
  okx_checksum_builder<crc32_state> b;
  okx_checksum_walk(bid_count, ask_count, [&](bool is_bid, std::size_t i) {
    const auto& l = is_bid ? bid(i) : ask(i);
    b.add(l.px, l.qty);
  });
  return b.value();
}

}  // namespace mdbus
