#pragma once
/// Exact decimal numbers: mantissa × 10^exponent. Venues send prices and quantities as
/// decimal strings; a binary double cannot hold 0.1 exactly, so two processes that round
/// differently would disagree on a price level. Everything on the bus stays decimal, and
/// doubles exist only for display.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mdbus {

/// mantissa × 10^exponent. Not a canonical form: (15, -1) and (150, -2) are the same number
/// (operator== says so) but keep the venue's scale, which feeders rely on so that one
/// symbol's prices share one exponent. This is a value type, not a shared-memory layout
/// (it has tail padding); records store decimals in their own packed form.
struct decimal {
  std::int64_t mantissa = 0;
  std::int8_t exponent = 0;
};

/// Every exponent an int8 can hold is valid; the arithmetic below works in int and in
/// 64-bit unsigned magnitudes, so the extremes (-128, 127) need no special casing.
inline constexpr int kMinDecimalExponent = -128;
inline constexpr int kMaxDecimalExponent = 127;

/// Longest text parse_decimal looks at. Venue decimals are under 30 characters; the cap
/// bounds the work per field and refuses garbage early. to_chars never produces more.
inline constexpr std::size_t kMaxDecimalTextLength = 64;

enum class parse_status : std::uint8_t {
  ok = 0,
  empty,                  ///< ""
  too_long,               ///< more than kMaxDecimalTextLength characters
  bad_character,          ///< a character no decimal contains: space, '+' in front, 'x', "nan", "inf"…
  no_digits,              ///< no mantissa digit at all: "-", ".", "-.e5"
  malformed,              ///< legal characters in an illegal place: "1.2.3", "1..2", "1.", ".5", "1e", "--1"
  overflow,               ///< significant digits do not fit int64 even without trailing zeros
  exponent_out_of_range,  ///< the value needs an exponent outside [-128, 127]
};

/// Name of a parse status, for logs and test output.
[[nodiscard]] std::string_view to_string(parse_status s) noexcept;

/// Parse a venue decimal string. Hot path: no allocation, no exceptions, one pass.
///
/// Grammar (JSON's number grammar, plus leading zeros and without '+' in front):
///   ['-'] digit+ ['.' digit+] [('e'|'E') ['+'|'-'] digit+]
/// A leading '+' is refused (bad_character): no venue sends one, and a strict parser
/// catches a corrupted field instead of guessing. Digits are required on both sides of
/// the '.', as JSON requires; venues always send "0.5", never ".5" or "5.".
///
/// Scale rule: the result keeps the text's scale, exponent = (exponent after 'e') minus
/// (digits after '.'), so "65432.10000000" → {6543210000000, -8} and "1.5E+3" → {15, 2}.
/// Leading zeros are dropped ("0.00012300" → {12300, -8}). Only when the mantissa would
/// overflow int64 are trailing zeros dropped, as few as needed (each raising the
/// exponent by one); if nonzero digits still do not fit, the result is `overflow`: the
/// parser never rounds. An exponent beyond the int8 range is brought back in range
/// exactly when possible (trailing zeros, or a mantissa ×10), else `exponent_out_of_range`.
/// "-0" parses as zero (there is no negative zero). `out` is written only on ok.
[[nodiscard]] parse_status parse_decimal(std::string_view text, decimal& out) noexcept;

/// Numeric comparison, exact across different exponents (no overflow, no rounding).
[[nodiscard]] constexpr std::strong_ordering compare(decimal a, decimal b) noexcept;

/// Numeric equality: {15, -1} == {150, -2}.
[[nodiscard]] constexpr bool operator==(decimal a, decimal b) noexcept { return compare(a, b) == 0; }
[[nodiscard]] constexpr std::strong_ordering operator<=>(decimal a, decimal b) noexcept { return compare(a, b); }

/// Same mantissa and exponent (not just the same number).
[[nodiscard]] constexpr bool same_representation(decimal a, decimal b) noexcept {
  return a.mantissa == b.mantissa && a.exponent == b.exponent;
}

[[nodiscard]] constexpr bool is_zero(decimal d) noexcept { return d.mantissa == 0; }

/// Upper bound of to_chars output. The longest fixed form is a sign, "0." and
/// kMaxFixedFractionDigits digits ("-0.000…9223372036854775808"); the longest scientific
/// form is shorter (sign, 19 digits, "e-128").
inline constexpr int kMaxFixedFractionDigits = 40;
inline constexpr std::size_t kMaxDecimalChars = 1 + 2 + kMaxFixedFractionDigits;

/// Write the text form into `out`; returns the characters written, 0 if `out` is smaller
/// than needed (kMaxDecimalChars always suffices). No allocation.
/// Exponents in [-40, 0] are written in fixed notation with exactly -exponent fraction
/// digits ("65432.10000000"); other exponents in scientific notation with an integer
/// mantissa ("15e2", "1e-50"). parse_decimal turns either back into the same mantissa and
/// exponent, so text round-trips keep the scale.
[[nodiscard]] std::size_t to_chars(decimal d, std::span<char> out) noexcept;

/// to_chars into a string. Allocates: for tools and logs, not for the hot path.
[[nodiscard]] std::string to_string(decimal d);

/// Nearest double. For display and rough statistics only: never compare, key or
/// accumulate prices through it (0.1 is not a double).
[[nodiscard]] double to_double(decimal d) noexcept;

// ---------------------------------------------------------------------------------------

namespace detail {

inline constexpr std::uint64_t kPow10[20] = {1ULL,
                                             10ULL,
                                             100ULL,
                                             1000ULL,
                                             10000ULL,
                                             100000ULL,
                                             1000000ULL,
                                             10000000ULL,
                                             100000000ULL,
                                             1000000000ULL,
                                             10000000000ULL,
                                             100000000000ULL,
                                             1000000000000ULL,
                                             10000000000000ULL,
                                             100000000000000ULL,
                                             1000000000000000ULL,
                                             10000000000000000ULL,
                                             100000000000000000ULL,
                                             1000000000000000000ULL,
                                             10000000000000000000ULL};

/// |m| without the overflow of -INT64_MIN.
constexpr std::uint64_t magnitude(std::int64_t m) noexcept {
  return m < 0 ? ~static_cast<std::uint64_t>(m) + 1 : static_cast<std::uint64_t>(m);
}

/// Compare a × 10^shift with b, shift >= 0, without forming the product: a product of
/// 19 digits and 10^18 does not fit 64 bits, but b's quotient and remainder by 10^shift do.
constexpr std::strong_ordering compare_scaled(std::uint64_t a, int shift, std::uint64_t b) noexcept {
  if (a == 0) return b == 0 ? std::strong_ordering::equal : std::strong_ordering::less;
  // a >= 1 and 10^19 exceeds every int64 magnitude (at most 2^63), so a × 10^19 beats any b.
  if (shift >= 19) return std::strong_ordering::greater;
  const std::uint64_t p = kPow10[shift];
  const std::uint64_t q = b / p;
  if (a != q) return a <=> q;
  return b % p == 0 ? std::strong_ordering::equal : std::strong_ordering::less;
}

}  // namespace detail

constexpr std::strong_ordering compare(decimal a, decimal b) noexcept {
  const int sa = (a.mantissa > 0) - (a.mantissa < 0);
  const int sb = (b.mantissa > 0) - (b.mantissa < 0);
  if (sa != sb) return sa <=> sb;
  if (sa == 0) return std::strong_ordering::equal;
  const std::uint64_t ma = detail::magnitude(a.mantissa);
  const std::uint64_t mb = detail::magnitude(b.mantissa);
  std::strong_ordering by_magnitude = std::strong_ordering::equal;
  if (a.exponent >= b.exponent) {
    by_magnitude = detail::compare_scaled(ma, a.exponent - b.exponent, mb);
  } else {
    by_magnitude = 0 <=> detail::compare_scaled(mb, b.exponent - a.exponent, ma);
  }
  // Both negative: the larger magnitude is the smaller number.
  return sa > 0 ? by_magnitude : 0 <=> by_magnitude;
}

}  // namespace mdbus
