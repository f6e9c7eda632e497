#include "mdbus/decimal.hpp"

#include <charconv>
#include <cstring>

namespace mdbus {

namespace {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

constexpr bool is_decimal_char(char c) noexcept {
  return is_digit(c) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E';
}

/// Why a text that failed the grammar failed. Cold path: the rescan keeps the hot loop
/// free of classification work. A foreign character wins over structure, so " 1", "0x10"
/// and "nan" read as bad characters rather than as misplaced ones.
[[gnu::cold]] parse_status classify_failure(std::string_view text) noexcept {
  // '+' is legal after 'e' but never in front: venues do not send it (documented choice).
  if (text.front() == '+') return parse_status::bad_character;
  bool any_digit = false;
  for (const char c : text) {
    if (!is_decimal_char(c)) return parse_status::bad_character;
    any_digit = any_digit || is_digit(c);
  }
  return any_digit ? parse_status::malformed : parse_status::no_digits;
}

// Saturation bound for the exponent after 'e': far beyond any representable value, far
// below int overflow once the fraction digit count is subtracted.
constexpr int kExponentTextCap = 100000;

constexpr std::uint64_t kInt64MaxMagnitude = static_cast<std::uint64_t>(INT64_MAX);

}  // namespace

std::string_view to_string(parse_status s) noexcept {
  switch (s) {
    case parse_status::ok: return "ok";
    case parse_status::empty: return "empty";
    case parse_status::too_long: return "too_long";
    case parse_status::bad_character: return "bad_character";
    case parse_status::no_digits: return "no_digits";
    case parse_status::malformed: return "malformed";
    case parse_status::overflow: return "overflow";
    case parse_status::exponent_out_of_range: return "exponent_out_of_range";
  }
  return "unknown";
}

parse_status parse_decimal(std::string_view text, decimal& out) noexcept {
  if (text.empty()) return parse_status::empty;
  if (text.size() > kMaxDecimalTextLength) return parse_status::too_long;

  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = *p == '-';
  if (negative) ++p;

  const char* const int_begin = p;
  while (p != end && is_digit(*p)) ++p;
  const auto int_count = static_cast<int>(p - int_begin);

  const char* frac_begin = p;
  int frac_count = 0;
  bool has_dot = false;
  if (p != end && *p == '.') {
    has_dot = true;
    frac_begin = ++p;
    while (p != end && is_digit(*p)) ++p;
    frac_count = static_cast<int>(p - frac_begin);
  }
  if (int_count == 0 || (has_dot && frac_count == 0)) return classify_failure(text);

  int sci = 0;
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    bool sci_negative = false;
    if (p != end && (*p == '+' || *p == '-')) sci_negative = *p++ == '-';
    const char* const sci_begin = p;
    for (; p != end && is_digit(*p); ++p) {
      if (sci < kExponentTextCap) sci = sci * 10 + (*p - '0');
    }
    if (p == sci_begin) return classify_failure(text);
    if (sci_negative) sci = -sci;
  }
  if (p != end) return classify_failure(text);

  // The digits form one stream (integer part, then fraction) whose value is the
  // mantissa at exponent sci - frac_count. Leading zeros carry no value; trailing zeros
  // carry scale, which is kept unless the mantissa cannot hold it.
  const int total = int_count + frac_count;
  const auto digit_at = [&](int i) noexcept { return i < int_count ? int_begin[i] : frac_begin[i - int_count]; };
  int first = 0;
  while (first < total && digit_at(first) == '0') ++first;
  int exponent = sci - frac_count;

  if (first == total) {
    // Zero at any scale is zero, so clamping the exponent is exact.
    if (exponent < kMinDecimalExponent) exponent = kMinDecimalExponent;
    if (exponent > kMaxDecimalExponent) exponent = kMaxDecimalExponent;
    out = decimal{0, static_cast<std::int8_t>(exponent)};
    return parse_status::ok;
  }

  const int significant = total - first;
  int trailing_zeros = 0;
  while (trailing_zeros < significant && digit_at(total - 1 - trailing_zeros) == '0') ++trailing_zeros;

  // 19 digits always fit a uint64; more must come from dropping trailing zeros.
  int drop = significant > 19 ? significant - 19 : 0;
  if (drop > trailing_zeros) return parse_status::overflow;
  std::uint64_t magnitude = 0;
  for (int i = first; i < total - drop; ++i) magnitude = magnitude * 10 + static_cast<std::uint64_t>(digit_at(i) - '0');

  // -INT64_MIN is one more than INT64_MAX: a negative mantissa may reach 2^63.
  const std::uint64_t limit = negative ? kInt64MaxMagnitude + 1 : kInt64MaxMagnitude;
  if (magnitude > limit) {
    if (drop == trailing_zeros) return parse_status::overflow;
    magnitude /= 10;  // the last kept digit is one of the trailing zeros
    ++drop;
  }
  exponent += drop;

  // Out-of-range exponents are repaired only when the value stays exact.
  while (exponent > kMaxDecimalExponent) {
    if (magnitude > limit / 10) return parse_status::exponent_out_of_range;
    magnitude *= 10;
    --exponent;
  }
  while (exponent < kMinDecimalExponent) {
    if (magnitude % 10 != 0) return parse_status::exponent_out_of_range;
    magnitude /= 10;
    ++exponent;
  }

  // Two's complement negation in unsigned arithmetic, so 2^63 becomes INT64_MIN.
  out.mantissa = static_cast<std::int64_t>(negative ? ~magnitude + 1 : magnitude);
  out.exponent = static_cast<std::int8_t>(exponent);
  return parse_status::ok;
}

std::size_t to_chars(decimal d, std::span<char> out) noexcept {
  char buf[kMaxDecimalChars];
  std::size_t len = 0;
  char digits[20];
  const auto [digits_end, ec] = std::to_chars(digits, digits + sizeof(digits), detail::magnitude(d.mantissa));
  (void)ec;  // 20 characters hold any uint64
  const auto nd = static_cast<int>(digits_end - digits);

  if (d.mantissa < 0) buf[len++] = '-';
  if (d.exponent <= 0 && d.exponent >= -kMaxFixedFractionDigits) {
    const int frac = -d.exponent;
    if (nd > frac) {
      std::memcpy(buf + len, digits, static_cast<std::size_t>(nd - frac));
      len += static_cast<std::size_t>(nd - frac);
      if (frac > 0) {
        buf[len++] = '.';
        std::memcpy(buf + len, digits + (nd - frac), static_cast<std::size_t>(frac));
        len += static_cast<std::size_t>(frac);
      }
    } else {
      buf[len++] = '0';
      buf[len++] = '.';
      for (int i = nd; i < frac; ++i) buf[len++] = '0';
      std::memcpy(buf + len, digits, static_cast<std::size_t>(nd));
      len += static_cast<std::size_t>(nd);
    }
  } else {
    // An integer mantissa with its own exponent parses back to the same pair.
    std::memcpy(buf + len, digits, static_cast<std::size_t>(nd));
    len += static_cast<std::size_t>(nd);
    buf[len++] = 'e';
    const auto r = std::to_chars(buf + len, buf + sizeof(buf), static_cast<int>(d.exponent));
    len = static_cast<std::size_t>(r.ptr - buf);
  }
  if (len > out.size()) return 0;
  std::memcpy(out.data(), buf, len);
  return len;
}

std::string to_string(decimal d) {
  char buf[kMaxDecimalChars];
  return std::string(buf, to_chars(d, buf));
}

double to_double(decimal d) noexcept {
  // Through the text form, so the double is the correctly rounded nearest value rather
  // than the product of two already-rounded doubles.
  char buf[kMaxDecimalChars];
  const std::size_t len = to_chars(d, buf);
  double v = 0.0;
  std::from_chars(buf, buf + len, v);
  return v;
}

}  // namespace mdbus
