// The adapters' exact scalar readers against the bus's reference: to_decimal and its padded
// SWAR variant must give parse_decimal's mantissa and exponent for every text, and the
// integer readers must refuse exactly what does not fit.
#include "feeders/adapter_support.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using namespace mdbus;
using namespace mdbus::feed::detail;

namespace {

/// `text` followed by garbage bytes, as inside a padded message: the padded reader may
/// look up to 8 bytes past the end, and what it finds there must not change the result.
struct padded_text {
  explicit padded_text(std::string_view text, char fill) : buf(std::string(text) + std::string(72, fill)), size(text.size()) {}
  [[nodiscard]] std::string_view view() const { return {buf.data(), size}; }
  std::string buf;
  std::size_t size;
};

void check_same(std::string_view text) {
  CAPTURE(text);
  decimal ref{99, 9};
  const bool ref_ok = parse_decimal(text, ref) == parse_status::ok;
  decimal a{77, 7};
  CHECK(to_decimal(text, a) == ref_ok);
  if (ref_ok) CHECK(same_representation(a, ref));
  for (const char fill : {'"', '0', '9', '.', '\0', '\xff'}) {
    const padded_text p(text, fill);
    decimal b{55, 5};
    CHECK(to_decimal_padded(p.view(), b) == ref_ok);
    if (ref_ok) CHECK(same_representation(b, ref));
  }
}

}  // namespace

TEST_CASE("to_decimal and to_decimal_padded agree with parse_decimal on venue-shaped and odd texts") {
  for (const std::string_view t :
       {"0", "1", "-1", "-0", "0.0", "-0.00000000", "61837.63000000", "0.35130000", "3.78826000", "30238.8", "0.0002",
        "525802090.62716611", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "123456789012345678",
        "1234567890123456789", "12345678.12345678", "1234567.12345678", "1234567.123456789", "0.123456789012345678",
        "00000000000000000000001", "1.", ".5", "1..2", "1.2.3", "", "-", "--1", "+1", "1e5", "1E-3", "1.5e+3", " 1", "1 ",
        "1\"", "\\u0031", "12345678", "123456789", "1.00000000", "99999999.99999999", "100000000000000000000",
        "0.000000000000000000000000000001", "abc", "1x", "٣"}) {
    check_same(t);
  }
  std::mt19937_64 rng(20260801);
  const std::string alphabet = "0123456789.-e";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const int shape = static_cast<int>(rng() % 3);
    if (shape == 0) {  // [-]digits[.digits], lengths around the SWAR word boundaries
      if (rng() % 4 == 0) s.push_back('-');
      for (std::uint64_t n = 1 + rng() % 12; n > 0; --n) s.push_back(static_cast<char>('0' + rng() % 10));
      if (rng() % 3 != 0) {
        s.push_back('.');
        for (std::uint64_t n = rng() % 12; n > 0; --n) s.push_back(static_cast<char>('0' + rng() % 10));
      }
    } else {
      for (std::uint64_t n = rng() % 24; n > 0; --n)
        s.push_back(shape == 1 ? alphabet[rng() % alphabet.size()] : static_cast<char>('0' + rng() % 10));
    }
    check_same(s);
  }
}

TEST_CASE("digit_run finds the first non-digit byte, whatever follows it") {
  auto run = [](std::string_view s) {
    std::uint64_t x = 0;
    std::memcpy(&x, (std::string(s) + std::string(8, '\xff')).data(), 8);
    return digit_run(x);
  };
  CHECK(run("12345678") == 8);
  CHECK(run("1234.678") == 4);
  CHECK(run("/") == 0);  // '0' - 1
  CHECK(run(":") == 0);  // '9' + 1
  CHECK(run("0\xfa\xff") == 1);
  CHECK(run("") == 0);
}

TEST_CASE("integer texts: exact, and refused when they do not fit") {
  std::uint64_t u = 0;
  CHECK(parse_u64_text("0", u));
  CHECK(u == 0);
  CHECK(parse_u64_text("18446744073709551615", u));
  CHECK(u == UINT64_MAX);
  CHECK_FALSE(parse_u64_text("18446744073709551616", u));
  CHECK_FALSE(parse_u64_text("99999999999999999999", u));
  CHECK_FALSE(parse_u64_text("123456789012345678901", u));
  CHECK(parse_u64_text("1234567890123456789", u));
  CHECK(u == 1234567890123456789ULL);
  CHECK(parse_u64_text("00000000000000000001", u));  // 20 characters, value 1
  CHECK(u == 1);
  for (const std::string_view bad : {"", "-1", "+1", "1.0", "1e3", " 1", "1 ", "0x10", "12345678a"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_u64_text(bad, u));
  }
  std::int64_t i = 0;
  CHECK(parse_i64_text("-1", i));
  CHECK(i == -1);
  CHECK(parse_i64_text("-9223372036854775808", i));
  CHECK(i == INT64_MIN);
  CHECK(parse_i64_text("9223372036854775807", i));
  CHECK(i == INT64_MAX);
  CHECK_FALSE(parse_i64_text("9223372036854775808", i));
  CHECK_FALSE(parse_i64_text("-9223372036854775809", i));
  CHECK_FALSE(parse_i64_text("-", i));
  CHECK_FALSE(parse_i64_text("--1", i));
}

TEST_CASE("milliseconds become nanoseconds up to the int64 limit") {
  std::int64_t ns = 0;
  CHECK(ms_to_ns(1723161255343ULL, ns));
  CHECK(ns == 1723161255343000000LL);
  CHECK(ms_to_ns(9223372036854ULL, ns));
  CHECK_FALSE(ms_to_ns(9223372036855ULL, ns));
}

TEST_CASE("parse_u64_padded agrees with parse_u64_text, whatever follows the text") {
  auto check = [](std::string_view text) {
    CAPTURE(text);
    std::uint64_t ref = 7;
    const bool ref_ok = parse_u64_text(text, ref);
    for (const char fill : {'"', '0', '9', ',', '\0', '\xff'}) {
      const padded_text p(text, fill);
      std::uint64_t got = 5;
      CHECK(parse_u64_padded(p.view(), got) == ref_ok);
      if (ref_ok) CHECK(got == ref);
    }
  };
  for (const std::string_view t : {"", "0", "7", "12345678", "123456789", "1626992741203", "600859602414",
                                   "9999999999999999", "10000000000000000", "18446744073709551615", "18446744073709551616",
                                   "-1", "1.0", "1e3", "1 ", "12345678a", "1234567a9", "123456789012345x"}) {
    check(t);
  }
  std::mt19937_64 rng(20261207);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (std::uint64_t n = rng() % 22; n > 0; --n) s.push_back(static_cast<char>('0' + rng() % 10));
    if (!s.empty() && rng() % 4 == 0) s[rng() % s.size()] = "/:.-a "[rng() % 6];  // one byte that is not a digit
    check(s);
  }
}
