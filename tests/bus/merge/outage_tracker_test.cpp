// The whole-group outages behind suspect records (issue 16, item 2): a window opens when the
// group's last up slot stops being up and closes when one is up again; a start is no outage.
#include "bus/merge/outage_tracker.hpp"

#include <doctest/doctest.h>

using namespace mdbus;
using namespace mdbus::merge;

TEST_CASE("outage tracker: a window from the last up slot going to the first coming back, never at start or with a partner up") {
  outage_tracker t;
  const venue v = venue::okx;
  // Start: connecting, then up. Nothing was carried before: no window.
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::connecting, 10));
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::up, 20));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::up, 25));
  // One slot cut while its partner carries: no outage.
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::down, 30));
  CHECK_FALSE(t.in_outage(v, 0));
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::up, 40));
  // Both down (A rotating counts as not up), then B back: the window is 60..95.
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::rotating, 50));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::down, 60));
  CHECK(t.in_outage(v, 0));
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::connecting, 70));
  const auto w = t.note(v, 0, slot_id::b, slot_state::syncing, 95);  // subscribed: carrying again
  REQUIRE(w);
  CHECK(w->start_ns == 60);
  CHECK(w->end_ns == 95);
  CHECK_FALSE(t.in_outage(v, 0));
  // Up after syncing, and the other slot coming up, close nothing more.
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::up, 97));
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::up, 99));
}

TEST_CASE("outage tracker: groups and venues are apart, and a slot other than A or B is ignored") {
  outage_tracker t;
  for (const std::uint32_t g : {0U, 1U}) {
    CHECK_FALSE(t.note(venue::binance, g, slot_id::a, slot_state::up, 1));
    CHECK_FALSE(t.note(venue::binance, g, slot_id::b, slot_state::up, 1));
  }
  CHECK_FALSE(t.note(venue::okx, 0, slot_id::a, slot_state::up, 1));
  CHECK_FALSE(t.note(venue::binance, 1, slot_id::a, slot_state::down, 5));
  CHECK_FALSE(t.note(venue::binance, 1, slot_id::b, slot_state::down, 6));
  CHECK(t.in_outage(venue::binance, 1));
  CHECK_FALSE(t.in_outage(venue::binance, 0));
  CHECK_FALSE(t.in_outage(venue::okx, 0));
  CHECK_FALSE(t.note(venue::binance, 1, slot_id::none, slot_state::up, 7));
  CHECK(t.in_outage(venue::binance, 1));
  const auto w = t.note(venue::binance, 1, slot_id::a, slot_state::up, 9);
  REQUIRE(w);
  CHECK(w->start_ns == 6);
  CHECK(w->end_ns == 9);
}

TEST_CASE("outage tracker: a last slot whose data stopped before its marker (a silent connection, a lagging partner) opens the window there") {
  outage_tracker t;
  const venue v = venue::okx;
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::up, 100));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::up, 110));
  // A is cut at 200; B's data stopped at 150 but its watchdog finds it only at 400. Between 150
  // and 200 A delivered: the window starts when A stopped.
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::down, 200, 199));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::down, 400, 150));
  auto w = t.note(v, 0, slot_id::a, slot_state::syncing, 500);
  REQUIRE(w);
  CHECK(w->start_ns == 200);
  CHECK(w->end_ns == 500);
  // B lags: its last record at 650, after A went at 600; found dead at 900: from 650.
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::up, 510));
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::down, 600, 590));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::down, 900, 650));
  w = t.note(v, 0, slot_id::b, slot_state::syncing, 950);
  REQUIRE(w);
  CHECK(w->start_ns == 650);
  // Data up to its marker, or none known: the marker's time.
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::up, 960));
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::down, 1000, 0));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::down, 1100, 1100));
  w = t.note(v, 0, slot_id::a, slot_state::up, 1200);
  REQUIRE(w);
  CHECK(w->start_ns == 1100);
  // The last record from an earlier connection of the slot: not before this one began to carry.
  // B back at 1220 with nothing delivered since (its last record, 800, is an older connection's).
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::up, 1220));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::down, 1400, 800));  // A still up: no outage
  CHECK_FALSE(t.in_outage(v, 0));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::up, 1450));
  CHECK_FALSE(t.note(v, 0, slot_id::a, slot_state::down, 1500, 1490));
  CHECK_FALSE(t.note(v, 0, slot_id::b, slot_state::down, 1600, 800));
  w = t.note(v, 0, slot_id::a, slot_state::up, 1700);
  REQUIRE(w);
  CHECK(w->start_ns == 1500);  // max(800, A stopped at 1500, B carrying since 1450)
}
