// Unit tests of exsim's venue limits (tools/exsim/rate_limits.hpp): sliding windows for
// attempts, Binance's fixed weight windows with 429 then 418, OKX's per-endpoint counts.
#include <doctest/doctest.h>

#include "tools/exsim/rate_limits.hpp"

using namespace mdbus::exsim;

TEST_CASE("exsim rate limits: a sliding counter admits limit attempts per window, refused attempts count when asked") {
  sliding_counter c;
  CHECK(c.admit(0, 2, 1000, true));
  CHECK(c.admit(10, 2, 1000, true));
  CHECK_FALSE(c.admit(20, 2, 1000, true));  // recorded: the window now ends at 1020
  CHECK_FALSE(c.admit(1005, 2, 1000, true));
  CHECK(c.admit(2100, 2, 1000, true));
  CHECK(c.in_window(2100, 1000) == 1);
  sliding_counter d;
  CHECK(d.admit(0, 1, 1000, false));
  CHECK_FALSE(d.admit(500, 1, 1000, false));  // not recorded
  CHECK(d.admit(1000, 1, 1000, false));
  sliding_counter off;
  for (int i = 0; i < 100; ++i) CHECK(off.admit(i, 0, 1000, true));
}

TEST_CASE("exsim rate limits: binance weight in fixed windows, 429 with the rest of the window, 418 for not backing off") {
  binance_weight_budget b(20, 3000, 2000);
  auto v = b.admit("ip", 5, 3000);
  CHECK(v.status == 200);
  CHECK(v.used == 5);
  for (int i = 0; i < 3; ++i) CHECK(b.admit("ip", 5, 3001).status == 200);
  CHECK(b.admit("other", 5, 3001).used == 5);  // per IP
  v = b.admit("ip", 5, 3500);
  CHECK(v.status == 429);
  CHECK(v.used == 20);
  CHECK(v.retry_after_s == 3);  // 2500 ms to the window's end, rounded up
  CHECK(b.used_now(3500) == 20);
  // The window ends at 6000, but Retry-After said 3 s: 6000 is still inside it.
  v = b.admit("ip", 1, 6000);
  CHECK(v.status == 418);
  CHECK(v.retry_after_s == 2);
  CHECK(b.admit("ip", 1, 7999).status == 418);
  CHECK(b.admit("ip", 1, 8000).status == 200);  // ban over, fresh window (6000..9000)
  CHECK(b.stats().answered_429 == 1);
  CHECK(b.stats().answered_418 == 2);
  CHECK(b.stats().weight_max == 20);
  CHECK(b.stats().requests == 9);
  // A client that waits out Retry-After is served and never banned.
  binance_weight_budget w(10, 1000, 5000);
  CHECK(w.admit("ip", 10, 0).status == 200);
  v = w.admit("ip", 10, 400);
  CHECK(v.status == 429);
  CHECK(v.retry_after_s == 1);
  CHECK(w.admit("ip", 10, 1400).status == 200);
  CHECK(w.stats().answered_418 == 0);
}

TEST_CASE("exsim rate limits: okx counts requests per IP and endpoint, 429 over the limit, 404s uncounted in the limit") {
  okx_request_budget o;
  for (int i = 0; i < 3; ++i) CHECK(o.admit("ip", "/books", 3, 2000, 100 + i).status == 200);
  CHECK(o.admit("ip", "/books", 3, 2000, 200).status == 429);
  CHECK(o.admit("ip", "/trades", 3, 2000, 200).status == 200);  // another endpoint
  CHECK(o.admit("ip2", "/books", 3, 2000, 200).status == 200);  // another IP
  CHECK(o.admit("ip", "/nope", 0, 1, 200).status == 200);       // no limit
  CHECK(o.used_now(200) == 3);
  CHECK(o.admit("ip", "/books", 3, 2000, 2100).status == 200);  // the first request left the window
  CHECK(o.stats().answered_429 == 1);
  CHECK(o.stats().weight_max == 3);
  CHECK(o.stats().requests == 8);
}
