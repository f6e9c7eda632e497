#include "mdbus/decimal.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace mdbus;

namespace doctest {
template <>
struct StringMaker<decimal> {
  static String convert(const decimal& d) {
    return (std::to_string(d.mantissa) + "e" + std::to_string(int{d.exponent})).c_str();
  }
};
}  // namespace doctest

namespace {

// GCC's 128-bit integer, only as an independent reference for compare().
__extension__ typedef __int128 i128;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

decimal parse_ok(std::string_view text) {
  decimal d{};
  const parse_status s = parse_decimal(text, d);
  INFO("text: \"", std::string(text), "\" status: ", std::string(to_string(s)));
  REQUIRE(s == parse_status::ok);
  return d;
}

parse_status status_of(std::string_view text) {
  decimal d{};
  return parse_decimal(text, d);
}

void check_parses_to(std::string_view text, std::int64_t mantissa, int exponent) {
  const decimal d = parse_ok(text);
  INFO("text: \"", std::string(text), "\"");
  CHECK(d.mantissa == mantissa);
  CHECK(int{d.exponent} == exponent);
}

}  // namespace

static_assert(noexcept(parse_decimal(std::string_view{}, std::declval<decimal&>())));
static_assert(compare(decimal{15, -1}, decimal{150, -2}) == 0);
static_assert(decimal{1, 0} < decimal{11, -1});

TEST_CASE("decimal: venue strings keep the venue's scale") {
  check_parses_to("65432.10000000", 6543210000000, -8);  // Binance price
  check_parses_to("0.00012300", 12300, -8);              // Binance qty: leading zeros dropped, scale kept
  check_parses_to("0", 0, 0);
  check_parses_to("0.0", 0, -1);
  check_parses_to("0.00000000", 0, -8);
  check_parses_to("-1.5", -15, -1);
  check_parses_to("100", 100, 0);
  check_parses_to("42000.1", 420001, -1);  // OKX px
  check_parses_to("007.50", 750, -2);       // leading zeros are harmless
  check_parses_to("1", 1, 0);
}

TEST_CASE("decimal: scientific notation: the exponent after 'e' shifts the scale") {
  check_parses_to("1e-8", 1, -8);
  check_parses_to("1.5E+3", 15, 2);
  check_parses_to("1.5e3", 15, 2);
  check_parses_to("2.50E-3", 250, -5);
  check_parses_to("1E0", 1, 0);
  check_parses_to("-1e-8", -1, -8);
  check_parses_to("0e5", 0, 5);
  check_parses_to("12e-0", 12, 0);
  check_parses_to("1e007", 1, 7);
}

TEST_CASE("decimal: malformed text is refused with a specific status and leaves the output untouched") {
  struct bad_case {
    std::string text;
    parse_status status;
  };
  const std::vector<bad_case> cases = {
      {"", parse_status::empty},
      {"-", parse_status::no_digits},
      {".", parse_status::no_digits},
      {"-.", parse_status::no_digits},
      {"e", parse_status::no_digits},
      {"-e-", parse_status::no_digits},
      {"1.2.3", parse_status::malformed},
      {"1..2", parse_status::malformed},
      {"1.", parse_status::malformed},
      {".5", parse_status::malformed},
      {"-.5", parse_status::malformed},
      {"1e", parse_status::malformed},
      {"1e+", parse_status::malformed},
      {"1e-", parse_status::malformed},
      {"1E5.0", parse_status::malformed},
      {"1e5e5", parse_status::malformed},
      {"e5", parse_status::malformed},
      {"--1", parse_status::malformed},
      {"1-", parse_status::malformed},
      {"1-2", parse_status::malformed},
      {"-+1", parse_status::malformed},
      {"+1", parse_status::bad_character},  // documented: no leading '+'
      {"+", parse_status::bad_character},
      {" 1", parse_status::bad_character},
      {"1 ", parse_status::bad_character},
      {"1 .5", parse_status::bad_character},
      {"0x10", parse_status::bad_character},
      {"nan", parse_status::bad_character},
      {"NaN", parse_status::bad_character},
      {"inf", parse_status::bad_character},
      {"-inf", parse_status::bad_character},
      {"Infinity", parse_status::bad_character},
      {"1,5", parse_status::bad_character},
      {"\"1\"", parse_status::bad_character},
      {std::string("1\0", 2), parse_status::bad_character},
      {"\xef\xbc\x91", parse_status::bad_character},  // fullwidth digit one
      {"1d5", parse_status::bad_character},
      {std::string(65, '1'), parse_status::too_long},
      {std::string(1000, '0'), parse_status::too_long},
      {"0." + std::string(70, '0') + "1", parse_status::too_long},
  };
  for (const auto& c : cases) {
    decimal d{77, 3};
    const parse_status s = parse_decimal(c.text, d);
    INFO("text: \"", c.text, "\" got ", std::string(to_string(s)), " want ", std::string(to_string(c.status)));
    CHECK(s == c.status);
    CHECK(same_representation(d, decimal{77, 3}));
  }
}

TEST_CASE("decimal: input length: 64 characters are accepted, 65 are too long") {
  check_parses_to(std::string(64, '0'), 0, 0);
  check_parses_to("0." + std::string(61, '0') + "1", 1, -62);
  CHECK(status_of(std::string(65, '0')) == parse_status::too_long);
}

TEST_CASE("decimal: int64 limits are exact and one beyond is overflow") {
  check_parses_to("9223372036854775807", kMax, 0);
  check_parses_to("-9223372036854775808", kMin, 0);
  check_parses_to("922337203685477580.7", kMax, -1);
  check_parses_to("-0.9223372036854775808", kMin, -19);
  CHECK(status_of("9223372036854775808") == parse_status::overflow);
  CHECK(status_of("-9223372036854775809") == parse_status::overflow);
  CHECK(status_of("9999999999999999999") == parse_status::overflow);
  CHECK(status_of("0.9223372036854775808") == parse_status::overflow);
}

TEST_CASE("decimal: trailing zeros are dropped only when the mantissa needs the room, as few as possible") {
  // 19 digits fit as they are.
  check_parses_to("1234567890123456789", 1234567890123456789, 0);
  check_parses_to("1.000000000000000000", 1000000000000000000, -18);
  // 19 digits above INT64_MAX with a trailing zero: drop exactly one.
  check_parses_to("9300000000000000000", 930000000000000000, 1);
  check_parses_to("-9223372036854775810", -922337203685477581, 1);
  // 20 digits: one zero goes.
  check_parses_to("12345678901234567800", 1234567890123456780, 1);
  check_parses_to("9223372036854775807.0", kMax, 0);
  check_parses_to("-9223372036854775808.0", kMin, 0);
  check_parses_to("92233720368547758070", kMax, 1);
  CHECK(status_of("9223372036854775808.0") == parse_status::overflow);  // still too big without the zero
  check_parses_to("12345678901234567890", 1234567890123456789, 1);
  CHECK(status_of("12345678901234567891") == parse_status::overflow);   // 20 nonzero digits: no rounding
  // 25 digits.
  check_parses_to("1000000000000000000000000", 1000000000000000000, 6);
  check_parses_to("1.000000000000000000000000", 1000000000000000000, -18);
  check_parses_to("0.1234567890123456789000000", 1234567890123456789, -19);
  check_parses_to("0.0000000000000000000000001", 1, -25);
  CHECK(status_of("1234567890123456789012345") == parse_status::overflow);
  CHECK(status_of("0.1234567890123456789000001") == parse_status::overflow);
  // The dropped zeros do not change the number.
  CHECK(parse_ok("1.000000000000000000000000") == decimal{1, 0});
}

TEST_CASE("decimal: exponents outside int8 are repaired when exact, refused otherwise") {
  check_parses_to("1e127", 1, 127);
  check_parses_to("1e128", 10, 127);
  check_parses_to("1e-128", 1, -128);
  check_parses_to("10e-129", 1, -128);
  check_parses_to("1.5e-127", 15, -128);
  check_parses_to("0e999", 0, 127);
  check_parses_to("0e-999", 0, -128);
  CHECK(status_of("1e-129") == parse_status::exponent_out_of_range);
  CHECK(status_of("1.5e-128") == parse_status::exponent_out_of_range);
  CHECK(status_of("1e200") == parse_status::exponent_out_of_range);
  CHECK(status_of("1e999999999999999999999") == parse_status::exponent_out_of_range);
  CHECK(status_of("1e-999999999999999999999") == parse_status::exponent_out_of_range);
  CHECK(status_of("9223372036854775807e128") == parse_status::exponent_out_of_range);
}

TEST_CASE("decimal: negative zero is zero") {
  const decimal d = parse_ok("-0");
  CHECK(d.mantissa == 0);
  CHECK(is_zero(d));
  CHECK(d == decimal{0, 0});
  CHECK(parse_ok("-0.000") == decimal{0, 5});
  CHECK(to_string(parse_ok("-0.000")) == "0.000");
  CHECK(compare(parse_ok("-0"), parse_ok("0")) == 0);
}

TEST_CASE("decimal: compare is exact across exponents, including the int64 and int8 extremes") {
  CHECK(decimal{15, -1} == decimal{150, -2});
  CHECK(decimal{15, -1} != decimal{151, -2});
  CHECK(decimal{1, 0} < decimal{11, -1});
  CHECK(decimal{-1, 0} > decimal{-11, -1});
  CHECK(decimal{-1, 0} < decimal{0, 0});
  CHECK(decimal{0, -5} == decimal{0, 100});
  CHECK(decimal{10, 17} == decimal{1, 18});
  CHECK(decimal{1, 18} < decimal{kMax, 0});
  CHECK(decimal{1, 19} > decimal{kMax, 0});
  CHECK(decimal{-1, 19} < decimal{kMin, 0});
  CHECK(decimal{kMax, 0} > decimal{kMax, -1});
  CHECK(decimal{kMin, 0} < decimal{kMax, 0});
  CHECK(decimal{kMin, 0} < decimal{kMin, -1});
  CHECK(decimal{kMin, -128} > decimal{-1, 0});
  CHECK(decimal{1, 127} < decimal{kMax, 126});
  CHECK(decimal{1, 127} > decimal{9, 126});
  CHECK(decimal{10, 126} == decimal{1, 127});
  CHECK(decimal{kMax, -128} < decimal{1, 127});
  CHECK(decimal{kMin, 127} < decimal{kMin, -128});
  CHECK(decimal{kMax, 0} == decimal{kMax, 0});
  CHECK(decimal{kMin, 5} == decimal{kMin, 5});
  CHECK(parse_ok("65432.10000000") == parse_ok("65432.1"));
  CHECK(parse_ok("1.5E+3") == parse_ok("1500"));
}

TEST_CASE("decimal: compare agrees with 128-bit arithmetic on random pairs") {
  std::mt19937_64 rng(12345);
  const auto random_mantissa = [&]() -> std::int64_t {
    switch (rng() % 4) {
      case 0: return static_cast<std::int64_t>(rng());                   // anything, limits included
      case 1: return static_cast<std::int64_t>(rng() % 2001) - 1000;      // small
      case 2: return rng() % 2 ? kMax - static_cast<std::int64_t>(rng() % 3) : kMin + static_cast<std::int64_t>(rng() % 3);
      default: return static_cast<std::int64_t>(rng() % 100) * 1000000;  // trailing zeros
    }
  };
  for (int i = 0; i < 200000; ++i) {
    const decimal a{random_mantissa(), static_cast<std::int8_t>(static_cast<int>(rng() % 40) - 20)};
    const int diff = static_cast<int>(rng() % 39) - 19;  // |diff| <= 19: the 128-bit product fits
    const int eb = a.exponent + diff;
    const decimal b{random_mantissa(), static_cast<std::int8_t>(eb)};
    const int low = a.exponent < b.exponent ? a.exponent : b.exponent;
    i128 va = a.mantissa;
    i128 vb = b.mantissa;
    for (int k = low; k < a.exponent; ++k) va *= 10;
    for (int k = low; k < b.exponent; ++k) vb *= 10;
    const auto want = va < vb ? std::strong_ordering::less : va > vb ? std::strong_ordering::greater : std::strong_ordering::equal;
    INFO(a.mantissa, "e", int{a.exponent}, " vs ", b.mantissa, "e", int{b.exponent});
    REQUIRE(compare(a, b) == want);
    REQUIRE(compare(b, a) == 0 <=> want);
    REQUIRE((a == b) == (want == 0));
  }
}

TEST_CASE("decimal: to_string writes fixed notation for venue scales and round-trips the representation") {
  for (const std::string_view s : {"65432.10000000", "0.00012300", "0", "0.0", "-1.5", "100", "-0.001", "12.34",
                                   "9223372036854775807", "-9223372036854775808", "-922337203685477580.8",
                                   "0.0000000000000000000000000000000000000001"}) {
    INFO("text: ", std::string(s));
    CHECK(to_string(parse_ok(s)) == s);
  }
  CHECK(to_string(decimal{15, 2}) == "15e2");
  CHECK(to_string(decimal{-1, -41}) == "-1e-41");
  CHECK(to_string(decimal{kMin, -128}) == "-9223372036854775808e-128");
  CHECK(to_string(decimal{1, -40}) == "0.0000000000000000000000000000000000000001");
  CHECK(same_representation(parse_ok(to_string(parse_ok("1.5E+3"))), decimal{15, 2}));
}

TEST_CASE("decimal: every representable decimal survives to_chars and parse_decimal unchanged") {
  std::mt19937_64 rng(777);
  const std::int64_t edges[] = {0, 1, -1, 10, kMax, kMin, kMax - 1, kMin + 1, 1000000000000000000};
  for (int i = 0; i < 100000; ++i) {
    const std::int64_t m = i < 9 * 256 ? edges[i / 256] : static_cast<std::int64_t>(rng() >> (rng() % 64));
    const decimal d{rng() % 2 && m != kMin ? -m : m, static_cast<std::int8_t>(i < 9 * 256 ? i % 256 - 128 : rng() % 256)};
    char buf[kMaxDecimalChars];
    const std::size_t n = to_chars(d, buf);
    REQUIRE(n > 0);
    REQUIRE(n <= kMaxDecimalTextLength);
    decimal back{};
    const std::string_view text(buf, n);
    INFO("text: ", std::string(text));
    REQUIRE(parse_decimal(text, back) == parse_status::ok);
    REQUIRE(same_representation(back, d));
  }
}

TEST_CASE("decimal: to_chars reports a buffer that is too small instead of overrunning it") {
  char small[4];
  CHECK(to_chars(decimal{12345, 0}, small) == 0);
  CHECK(to_chars(decimal{1234, 0}, small) == 4);
  CHECK(std::string(small, 4) == "1234");
  CHECK(to_chars(decimal{kMin, -40}, std::span<char>{}) == 0);
  char exact[kMaxDecimalChars];
  CHECK(to_chars(decimal{kMin, -40}, exact) == kMaxDecimalChars);
}

TEST_CASE("decimal: to_double is the nearest double (display only)") {
  CHECK(to_double(parse_ok("65432.1")) == 65432.1);
  CHECK(to_double(parse_ok("0.1")) == 0.1);
  CHECK(to_double(parse_ok("1e-8")) == 1e-8);
  CHECK(to_double(parse_ok("-1.5E+3")) == -1500.0);
  CHECK(to_double(decimal{kMin, 0}) == -9223372036854775808.0);
  CHECK(to_double(decimal{1, 127}) == 1e127);
  CHECK(to_double(decimal{0, -5}) == 0.0);
}

TEST_CASE("decimal: random text never misbehaves, and whatever is accepted has strtod's value") {
  std::mt19937_64 rng(4242);
  const std::string alphabet = "0123456789000.-+eE x";
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s(rng() % 30, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    decimal d{};
    const parse_status st = parse_decimal(s, d);
    REQUIRE(to_string(st) != "unknown");
    if (st != parse_status::ok) continue;
    ++accepted;
    INFO("text: ", s);
    // Both are correctly rounded from the same exact value, so they agree bit for bit.
    REQUIRE(to_double(d) == std::strtod(s.c_str(), nullptr));
    decimal back{};
    REQUIRE(parse_decimal(to_string(d), back) == parse_status::ok);
    REQUIRE(same_representation(back, d));
  }
  CHECK(accepted > 100);
}

TEST_CASE("decimal: status names") {
  CHECK(to_string(parse_status::ok) == "ok");
  CHECK(to_string(parse_status::overflow) == "overflow");
  CHECK(to_string(parse_status::exponent_out_of_range) == "exponent_out_of_range");
  CHECK(to_string(static_cast<parse_status>(200)) == "unknown");
}
