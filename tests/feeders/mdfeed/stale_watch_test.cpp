// The per-stream staleness watchdog's decisions over simulated time: a quiet market and a
// never-started stream cost nothing, a stream silent far beyond its own rate on a busy
// connection is resubscribed, spaced and backed off within the venues' subscribe limits.
#include "feeders/mdfeed/stale_watch.hpp"

#include <doctest/doctest.h>

using mdbus::feed::stale_watch;

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000 * kMs;

stale_watch::options opts() {
  stale_watch::options o;
  o.stale_ns = 2 * kS;
  o.rate_factor = 20;
  o.min_samples = 8;
  o.busy_ns = 1 * kS;
  o.spacing_ns = 5 * kS;
  return o;
}

/// Every stream ticks every `period` from `from` to `to` (exclusive).
void run(stale_watch& w, std::int64_t from, std::int64_t to, std::int64_t period) {
  for (std::int64_t t = from; t < to; t += period)
    for (std::size_t s = 0; s < w.size(); ++s) w.on_record(s, t);
}

}  // namespace

TEST_CASE("stale_watch: a stream that never delivered is never stale, however long the silence") {
  stale_watch w(3, opts());
  w.connection_started(0);
  for (std::int64_t t = 0; t < 600 * kS; t += 100 * kMs) {
    w.on_record(0, t);  // stream 0 busy, streams 1 and 2 silent from the start (quiet instruments)
    CHECK(w.check(t) == stale_watch::npos);
  }
  CHECK(w.threshold_ns(1) == 0);
}

TEST_CASE("stale_watch: a whole connection going quiet is the market, not a stale stream") {
  stale_watch w(2, opts());
  w.connection_started(0);
  run(w, 0, 10 * kS, 100 * kMs);
  for (std::int64_t t = 10 * kS; t < 300 * kS; t += 100 * kMs) CHECK(w.check(t) == stale_watch::npos);
}

TEST_CASE("stale_watch: one stream silent past the floor while its partner streams flow is resubscribed once, then spaced") {
  stale_watch w(2, opts());
  w.connection_started(0);
  run(w, 0, 5 * kS, 100 * kMs);  // both streams every 100 ms; stream 1's last record at 4.9 s
  // 100 ms usual interval x 20 = 2 s = the floor: stale once silent for more than 2 s.
  CHECK(w.threshold_ns(1) == 2 * kS);
  std::int64_t t = 5 * kS;
  for (; t <= 6900 * kMs; t += 100 * kMs) {
    w.on_record(0, t);
    CHECK(w.check(t) == stale_watch::npos);
  }
  w.on_record(0, t);  // 7.0 s: stream 1 silent for 2.1 s
  CHECK(w.check(t) == 1);
  w.resubscribed(1, t);
  // Spaced: nothing within 5 s of the resubscribe, and a futile resubscribe doubles the
  // stream's threshold (4 s from the resubscribe at 7 s).
  for (t += 100 * kMs; t <= 11 * kS; t += 100 * kMs) {
    w.on_record(0, t);
    CHECK(w.check(t) == stale_watch::npos);
  }
  w.on_record(0, 12 * kS);
  CHECK(w.check(12 * kS) == 1);
  // It delivers again: back to its own rate, nothing stale.
  w.resubscribed(1, 12 * kS);
  run(w, 12 * kS + 100 * kMs, 20 * kS, 100 * kMs);
  CHECK(w.check(20 * kS) == stale_watch::npos);
  CHECK(w.threshold_ns(1) == 2 * kS);
}

TEST_CASE("stale_watch: a slow stream's own rate sets its threshold, above the floor") {
  stale_watch w(2, opts());
  w.connection_started(0);
  // Stream 1 ticks every 1 s, stream 0 every 100 ms.
  for (std::int64_t t = 0; t < 20 * kS; t += 100 * kMs) {
    w.on_record(0, t);
    if (t % kS == 0) w.on_record(1, t);
  }
  CHECK(w.threshold_ns(1) >= 19 * kS);  // 20 x ~1 s
  CHECK(w.threshold_ns(1) <= 21 * kS);
  // Stream 1 silent for 10 s: inside its threshold.
  for (std::int64_t t = 20 * kS; t < 30 * kS; t += 100 * kMs) {
    w.on_record(0, t);
    CHECK(w.check(t) == stale_watch::npos);
  }
  for (std::int64_t t = 30 * kS; t < 45 * kS; t += 100 * kMs) w.on_record(0, t);
  CHECK(w.check(45 * kS) == 1);
}

TEST_CASE("stale_watch: a new connection forgets every rate and every resubscribe") {
  stale_watch w(2, opts());
  w.connection_started(0);
  run(w, 0, 5 * kS, 100 * kMs);
  for (std::int64_t t = 5 * kS; t <= 10 * kS; t += 100 * kMs) w.on_record(0, t);
  CHECK(w.check(10 * kS) == 1);
  w.connection_started(10 * kS);
  CHECK(w.threshold_ns(1) == 0);
  w.on_record(0, 11 * kS);
  CHECK(w.check(11 * kS) == stale_watch::npos);
}

TEST_CASE("stale_watch: out-of-range stream indexes are ignored") {
  stale_watch w(1, opts());
  w.connection_started(0);
  w.on_record(5, 1);
  w.resubscribed(5, 1);
  CHECK(w.threshold_ns(5) == 0);
  CHECK(w.check(100 * kS) == stale_watch::npos);
}
