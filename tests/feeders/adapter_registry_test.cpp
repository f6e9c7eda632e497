// The registry and the names of the parse errors.
#include "mdbus/venues/registry.hpp"
#include "feeders/venue_adapter.hpp"
#include "tests/feeders/adapter_test_support.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace mdbus;
using namespace mdbus::feed;

TEST_CASE("make_adapter knows binance and okx, and nothing else") {
  adapter_options o;
  auto b = make_adapter(venue::binance, o);
  REQUIRE(b != nullptr);
  CHECK(b->id() == venue::binance);
  auto x = make_adapter(venue::okx, o);
  REQUIRE(x != nullptr);
  CHECK(x->id() == venue::okx);
  CHECK(make_adapter(venue::unknown, o) == nullptr);
  CHECK(make_adapter(static_cast<venue>(77), o) == nullptr);
}

TEST_CASE("make_adapter refuses options no record fits in") {
  adapter_options o;
  o.max_record_bytes = kMinRecordBytes - 1;
  CHECK_THROWS_AS((void)make_adapter(venue::binance, o), std::invalid_argument);
  o.max_record_bytes = kMaxRecordSize + 1;
  CHECK_THROWS_AS((void)make_adapter(venue::okx, o), std::invalid_argument);
  o.max_record_bytes = kMinRecordBytes;
  o.max_message_bytes = 0;
  CHECK_THROWS_AS((void)make_adapter(venue::okx, o), std::invalid_argument);
  o.max_message_bytes = 1;
  CHECK(make_adapter(venue::okx, o) != nullptr);
}

TEST_CASE("every parse_error has its own name") {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(parse_error::count_); ++i) {
    const auto n = to_string(static_cast<parse_error>(i));
    CHECK(n != "unknown");
    names.emplace(n);
  }
  CHECK(names.size() == static_cast<std::size_t>(parse_error::count_));
  CHECK(to_string(parse_error::count_) == "unknown");
  CHECK(to_string(parse_error::bad_number) == "bad_number");
}

TEST_CASE("every adapter's trade history agrees with its venue descriptor (the merger asks only where the descriptor says)") {
  for (const venue_descriptor* d : all_venues()) {
    auto a = make_adapter(d->id, adapter_options{});
    REQUIRE(a != nullptr);
    for (const channel_rule& c : d->channels) {
      INFO(d->name, " ", to_string(c.id));
      const backfill_plan p = a->backfill_plan_for(c.id);
      CHECK(p.available == c.history);
      if (!p.available) continue;
      // A hole is a list of ids where they count up by one (pages up from it); where they only
      // increase (OKX trades), the fills between two trades are fetched down from the later one.
      if (p.newest_first)
        CHECK(c.rule == sequence_rule::increasing);
      else
        CHECK(c.rule == sequence_rule::consecutive);
      CHECK(p.rest_cost > 0);
      CHECK(p.max_rows > 0);
    }
  }
}
