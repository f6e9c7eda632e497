#pragma once
/// Character classes the venues' symbol grammars share (bus/venues/<venue>.cpp).
namespace mdbus::venues {

[[nodiscard]] constexpr bool upper_or_digit(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace mdbus::venues
