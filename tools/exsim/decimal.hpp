#pragma once
/// Exact decimal text for prices and quantities held as integer mantissas. Binance prints a
/// fixed 8 decimals ("61837.63000000"); OKX prints the shortest form ("30238.8", "2").
#include <charconv>
#include <cstdint>
#include <string>

namespace mdbus::exsim {

/// Appends mantissa * 10^-scale as text. `fixed` > 0 pads to that many decimals (it must be
/// >= scale); fixed == 0 trims trailing zeros and a bare decimal point.
inline void append_decimal(std::string& out, std::int64_t mantissa, int scale, int fixed) {
  char buf[48];
  int n = 0;
  const bool negative = mantissa < 0;
  std::uint64_t v = negative ? static_cast<std::uint64_t>(-mantissa) : static_cast<std::uint64_t>(mantissa);
  const int decimals = fixed > 0 ? fixed : scale;
  // Render digits right-to-left: `decimals` fractional digits (zero padded beyond scale).
  char digits[48];
  int d = 0;
  for (int i = 0; i < decimals - scale; ++i) digits[d++] = '0';
  for (int i = 0; i < scale; ++i) {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  const int frac = d;
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (negative) buf[n++] = '-';
  for (int i = d - 1; i >= frac; --i) buf[n++] = digits[i];
  int first_frac = frac - 1;
  int last_frac = 0;
  if (fixed == 0)
    while (last_frac <= first_frac && digits[last_frac] == '0') ++last_frac;
  if (last_frac <= first_frac) {
    buf[n++] = '.';
    for (int i = first_frac; i >= last_frac; --i) buf[n++] = digits[i];
  }
  out.append(buf, static_cast<std::size_t>(n));
}

/// An integer as JSON number text; quoted, as OKX sends ids and times.
inline void append_int(std::string& out, std::int64_t v) {
  char b[24];
  const auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}
inline void append_quoted_int(std::string& out, std::int64_t v) {
  out.push_back('"');
  append_int(out, v);
  out.push_back('"');
}

inline std::string decimal_string(std::int64_t mantissa, int scale, int fixed) {
  std::string s;
  append_decimal(s, mantissa, scale, fixed);
  return s;
}

/// Parses "123.45" into a mantissa at `scale`; false on malformed text or excess precision.
inline bool parse_decimal(std::string_view text, int scale, std::int64_t& out) {
  std::int64_t v = 0;
  int frac = -1;
  bool negative = false;
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    negative = true;
    ++i;
  }
  if (i == text.size()) return false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (frac >= 0) return false;
      frac = 0;
      continue;
    }
    if (c < '0' || c > '9') return false;
    if (frac >= 0) {
      if (frac == scale) {
        if (c != '0') return false;
        continue;
      }
      ++frac;
    }
    v = v * 10 + (c - '0');
  }
  for (int k = frac < 0 ? 0 : frac; k < scale; ++k) v *= 10;
  out = negative ? -v : v;
  return true;
}

}  // namespace mdbus::exsim
