#pragma once
/// CRC-32 (IEEE 802.3, zlib's crc32) for the OKX order-book checksum.
#include <array>
#include <cstdint>
#include <string_view>

namespace mdbus::exsim {

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

constexpr std::uint32_t crc32(std::string_view bytes) noexcept {
  std::uint32_t c = 0xFFFFFFFFU;
  for (const char ch : bytes) c = detail::kCrc32Table[(c ^ static_cast<std::uint8_t>(ch)) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

/// OKX sends the CRC as a signed 32-bit integer.
constexpr std::int32_t okx_crc32(std::string_view bytes) noexcept {
  return static_cast<std::int32_t>(crc32(bytes));
}

}  // namespace mdbus::exsim
