// The status page's history (bus/supervisor/status_history.hpp): per-interval points from
// cumulative counters, resets, slots that come and go, the capacity, the JSON the page reads.
#include "bus/supervisor/status_history.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace mdbus::supervise;

namespace {

constexpr std::int64_t kS = 1'000'000'000;

slot_counters at(std::string slot, double rate, std::uint64_t lead_sum_ns, std::uint64_t lead_samples, std::uint64_t reconnects) {
  return {std::move(slot), rate, lead_sum_ns, lead_samples, reconnects};
}

}  // namespace

TEST_CASE("status history: the first sample is the baseline, then one point per interval, deltas of the counters") {
  status_history h(10, 2 * kS);
  CHECK(h.due(0));
  CHECK_FALSE(h.sample(100 * kS, 100 * kS, {at("binance/A", 50, 1'000'000, 10, 1)}));
  CHECK(h.size() == 0);
  CHECK_FALSE(h.due(101 * kS));
  CHECK_FALSE(h.sample(101 * kS, 101 * kS, {at("binance/A", 60, 9'000'000, 20, 1)}));  // inside the interval: ignored
  CHECK(h.sample(102 * kS, 102 * kS, {at("binance/A", 70, 5'000'000, 30, 3)}));
  REQUIRE(h.size() == 1);
  const auto p = h.at(0, "binance/A");
  REQUIRE(p);
  CHECK(p->msgs_per_s == 70);
  REQUIRE(p->lead_us);
  CHECK(*p->lead_us == doctest::Approx(200.0));  // 4 ms over 20 first arrivals = 200 µs
  CHECK(p->reconnects == 2);
}

TEST_CASE("status history: an interval without a first arrival has no lead, not a zero lead") {
  status_history h(10, kS);
  h.sample(0, 0, {at("okx/B", 10, 500, 5, 0)});
  REQUIRE(h.sample(kS, kS, {at("okx/B", 10, 500, 5, 0)}));
  const auto p = h.at(0, "okx/B");
  REQUIRE(p);
  CHECK_FALSE(p->lead_us.has_value());
  CHECK(p->reconnects == 0);
}

TEST_CASE("status history: a counter that went backwards was reset, and all of it is new") {
  status_history h(10, kS);
  h.sample(0, 0, {at("binance/A", 1, 8'000, 8, 5)});
  // A status block or a counters segment made anew counts from zero.
  REQUIRE(h.sample(kS, kS, {at("binance/A", 1, 3'000, 3, 1)}));
  const auto p = h.at(0, "binance/A");
  REQUIRE(p);
  CHECK(p->reconnects == 1);
  REQUIRE(p->lead_us);
  CHECK(*p->lead_us == doctest::Approx(1.0));
}

TEST_CASE("status history: keeps the newest points up to its capacity") {
  status_history h(3, kS);
  for (int i = 0; i <= 5; ++i) h.sample(i * kS, i * kS, {at("binance/A", i, 0, 0, 0)});
  REQUIRE(h.size() == 3);
  CHECK(h.at(0, "binance/A")->msgs_per_s == 3);
  CHECK(h.at(2, "binance/A")->msgs_per_s == 5);
  CHECK_FALSE(h.at(3, "binance/A"));
}

TEST_CASE("status history: JSON arrays aligned with time, null where a slot did not exist yet") {
  status_history h(10, 2 * kS);
  h.sample(0, 0, {at("binance/A", 1, 0, 0, 0)});
  h.sample(2 * kS, 2 * kS, {at("binance/A", 2, 1'000, 1, 0)});
  // A reload added a group: its slot appears at the second point, counted from its own start.
  h.sample(4 * kS, 4 * kS, {at("binance/A", 3, 1'000, 1, 1), at("binance/g1/A", 4, 0, 0, 0)});
  nlohmann::json j;
  h.to_json(j);
  CHECK(j["interval_ms"] == 2000);
  CHECK(j["t_ms"] == nlohmann::json::array({2000, 4000}));
  CHECK(j["slots"]["binance/A"]["msgs_per_s"] == nlohmann::json::array({2.0, 3.0}));
  CHECK(j["slots"]["binance/A"]["lead_us"] == nlohmann::json::array({1.0, nullptr}));
  CHECK(j["slots"]["binance/A"]["reconnects"] == nlohmann::json::array({0, 1}));
  CHECK(j["slots"]["binance/g1/A"]["msgs_per_s"] == nlohmann::json::array({nullptr, 4.0}));
  CHECK(j["slots"]["binance/g1/A"]["reconnects"] == nlohmann::json::array({nullptr, 0}));
}

TEST_CASE("status history: while a slot's feeder block is closed its last count stands, and its return is no burst") {
  status_history h(10, kS);
  h.sample(0, 0, {at("binance/A", 5, 0, 0, 40)});
  slot_counters closed = at("binance/A", 0, 0, 0, 0);
  closed.reconnects.reset();  // the feeder died: the supervisor reads no count
  REQUIRE(h.sample(kS, kS, {closed}));
  CHECK(h.at(0, "binance/A")->reconnects == 0);
  // The block opens again with the count it kept (41: one reconnect more): one, not 41.
  REQUIRE(h.sample(2 * kS, 2 * kS, {at("binance/A", 5, 0, 0, 41)}));
  CHECK(h.at(1, "binance/A")->reconnects == 1);
  // A slot seen for the first time sets its baseline: its count so far is not this interval's.
  REQUIRE(h.sample(3 * kS, 3 * kS, {at("binance/A", 5, 0, 0, 41), at("okx/A", 5, 0, 0, 7)}));
  CHECK(h.at(2, "okx/A")->reconnects == 0);
}

TEST_CASE("status history: points follow the monotonic clock, a wall clock that steps back only labels them") {
  status_history h(10, 2 * kS);
  h.sample(0, 1000 * kS, {at("okx/B", 1, 0, 0, 0)});
  // NTP steps the wall clock back a minute: the next point is still 2 s of monotonic time later.
  CHECK(h.sample(2 * kS, 942 * kS, {at("okx/B", 2, 0, 0, 0)}));
  CHECK_FALSE(h.sample(3 * kS, 943 * kS, {at("okx/B", 3, 0, 0, 0)}));
  CHECK(h.sample(4 * kS, 944 * kS, {at("okx/B", 4, 0, 0, 0)}));
  nlohmann::json j;
  h.to_json(j);
  CHECK(j["t_ms"] == nlohmann::json::array({942'000, 944'000}));
}
