// The venue descriptors (bus/venues/): one place per venue for its name, symbol and channel
// grammar, login-only channels, sequence and join rules and connection timing. What the
// config, the adapters and the merger read from them is checked here against the venues'
// documented rules; the readers' own tests (config_test, the adapter tests, arbiter_test)
// check that they use them.
#include "bus/merge/sequence_rule.hpp"
#include "mdbus/venues/registry.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace mdbus;

TEST_CASE("venue descriptors: found by id and by name, each declaring only its own channels") {
  REQUIRE(all_venues().size() == 3);
  CHECK(known_venue_names() == "binance, okx, binance_usdm");
  for (const venue_descriptor* d : all_venues()) {
    CAPTURE(d->name);
    CHECK(find_venue(d->id) == d);
    CHECK(find_venue(d->name) == d);
    CHECK(to_string(d->id) == d->name);  // the record layout's spelling agrees
    CHECK(d->symbol_problem(d->symbol_example).empty());
    CHECK_FALSE(d->channels.empty());
    for (const channel_rule& r : d->channels) {
      CAPTURE(to_string(r.id));
      CHECK(venue_of(r.id) == d->id);
      const channel_rule* found = find_channel_rule(r.id);  // the merger's index: a copy of the entry
      REQUIRE(found != nullptr);
      CHECK(found->id == r.id);
      CHECK(found->rule == r.rule);
      CHECK(found->join == r.join);
    }
  }
  CHECK(find_venue(venue::unknown) == nullptr);
  CHECK(find_venue("Binance") == nullptr);
  CHECK(find_venue("") == nullptr);
  CHECK(to_string(venue::unknown) == "unknown");
  CHECK(to_string(static_cast<venue>(200)) == "unknown");
  CHECK(venue_from_string("binance_usdm").value_or(venue::unknown) == venue::binance_usdm);
  CHECK_FALSE(venue_from_string("OKX").has_value());
  // Which channel serves which symbol: OKX funding-rate is for perpetual swaps only.
  CHECK(venues::okx().subscription_problem(channel::okx_funding_rate, "BTC-USDT-SWAP").empty());
  CHECK_FALSE(venues::okx().subscription_problem(channel::okx_funding_rate, "BTC-USDT").empty());
  CHECK(venues::okx().subscription_problem(channel::okx_mark_price, "BTC-USDT").empty());
  const bool binance_serves_every_pair = venues::binance().subscription_problem == nullptr;
  CHECK(binance_serves_every_pair);
  CHECK(find_channel_rule(channel::unknown) == nullptr);
  CHECK(find_channel_rule(static_cast<channel>(200)) == nullptr);
}

TEST_CASE("venue descriptors: which venue declares a channel, its position there, its spelling back") {
  for (const channel_table& t : kChannelTables) {
    for (std::size_t i = 0; i < t.rules.size(); ++i) {
      const channel c = t.rules[i].id;
      CAPTURE(to_string(c));
      CHECK(venue_of(c) == t.id);
      CHECK(channel_position(c) == i);
      CHECK(channel_from_string(t.id, to_string(c)) == c);
      for (const channel_table& other : kChannelTables)
        if (other.id != t.id) CHECK(channel_from_string(other.id, to_string(c)) != c);  // "trade" is spot's and USD-M's
    }
  }
  CHECK(venue_of(channel::unknown) == venue::unknown);
  CHECK(venue_of(static_cast<channel>(200)) == venue::unknown);
  CHECK(channel_position(channel::unknown) == kMaxChannelsPerVenue);
  CHECK_FALSE(channel_from_string(venue::unknown, "trade").has_value());
  static_assert(venue_of(channel::okx_books) == venue::okx, "a constant expression");
}

TEST_CASE("venue descriptors: the sequence and join rule of every channel (ARCHITECTURE.md's arbitration table)") {
  using merge::join_rule_for_channel;
  using merge::rule_for_channel;
  CHECK(rule_for_channel(channel::binance_trade) == sequence_rule::consecutive);
  CHECK(rule_for_channel(channel::binance_agg_trade) == sequence_rule::consecutive);
  CHECK(rule_for_channel(channel::binance_depth) == sequence_rule::range);
  CHECK(rule_for_channel(channel::binance_book_ticker) == sequence_rule::increasing);
  CHECK(rule_for_channel(channel::binance_depth_partial) == sequence_rule::increasing);
  CHECK(rule_for_channel(channel::okx_trades) == sequence_rule::increasing);
  CHECK(rule_for_channel(channel::okx_tickers) == sequence_rule::content);
  CHECK(rule_for_channel(channel::okx_bbo_tbt) == sequence_rule::chained);
  CHECK(rule_for_channel(channel::okx_books) == sequence_rule::chained);
  CHECK(rule_for_channel(channel::okx_books5) == sequence_rule::increasing);
  CHECK(rule_for_channel(channel::okx_books_l2_tbt) == sequence_rule::chained);
  CHECK(rule_for_channel(channel::unknown) == sequence_rule::content);
  CHECK(join_rule_for_channel(channel::binance_depth) == join_rule::covers);
  CHECK(join_rule_for_channel(channel::okx_books) == join_rule::straddles);
  CHECK(join_rule_for_channel(channel::okx_books_l2_tbt) == join_rule::straddles);
  CHECK(join_rule_for_channel(channel::okx_bbo_tbt) == join_rule::chain);
  CHECK(join_rule_for_channel(channel::binance_trade) == join_rule::chain);
  CHECK(rule_for_channel(channel::usdm_trade) == sequence_rule::consecutive);
  CHECK(rule_for_channel(channel::usdm_agg_trade) == sequence_rule::consecutive);
  CHECK(rule_for_channel(channel::usdm_book_ticker) == sequence_rule::increasing);
  CHECK(rule_for_channel(channel::usdm_depth) == sequence_rule::chained);
  CHECK(rule_for_channel(channel::usdm_depth_partial) == sequence_rule::increasing);
  CHECK(join_rule_for_channel(channel::usdm_depth) == join_rule::spans);
  // Mark price and funding: state with no venue id, ordered by event time (the record's seq).
  for (const channel c : {channel::usdm_mark_price, channel::okx_mark_price, channel::okx_funding_rate}) {
    CAPTURE(c);
    CHECK(rule_for_channel(c) == sequence_rule::increasing);
    CHECK(join_rule_for_channel(c) == join_rule::chain);
  }
  CHECK(channel_rule_of(channel::usdm_mark_price).route == "/market");
  static_assert(merge::rule_for_channel(channel::binance_depth) == sequence_rule::range, "a constant expression");
}

TEST_CASE("venue descriptors: Binance's channel grammar (stream-name suffixes), with the variant as written") {
  const venue_descriptor& b = *find_venue(venue::binance);
  struct row {
    const char* spelling;
    channel id;
    const char* variant;
  };
  for (const row& r : {row{"trade", channel::binance_trade, ""}, row{"aggTrade", channel::binance_agg_trade, ""},
                       row{"bookTicker", channel::binance_book_ticker, ""}, row{"depth", channel::binance_depth, ""},
                       row{"depth@100ms", channel::binance_depth, "100ms"}, row{"depth@1000ms", channel::binance_depth, "1000ms"},
                       row{"depth5", channel::binance_depth_partial, "5"},
                       row{"depth20@100ms", channel::binance_depth_partial, "20@100ms"},
                       row{"depth10@1000ms", channel::binance_depth_partial, "10@1000ms"}}) {
    CAPTURE(r.spelling);
    const parsed_channel p = b.parse_channel(r.spelling);
    CHECK(p.id == r.id);
    CHECK(p.variant == r.variant);
  }
  for (const char* bad : {"", "trade@100ms", "depth@250ms", "depth15", "depth5@", "kline_1m", "Trade", "depth@100ms@100ms",
                          "depthPartial", "trades", "books"}) {
    CAPTURE(bad);
    CHECK(b.parse_channel(bad).id == channel::unknown);
  }
  CHECK(b.login_only_reason("depth").empty());
}

TEST_CASE("venue descriptors: OKX's channel grammar and its login-only channels") {
  const venue_descriptor& o = *find_venue(venue::okx);
  for (const channel c : {channel::okx_trades, channel::okx_tickers, channel::okx_bbo_tbt, channel::okx_books, channel::okx_books5,
                          channel::okx_books_l2_tbt}) {
    CHECK(o.parse_channel(to_string(c)).id == c);
    CHECK(o.parse_channel(to_string(c)).variant.empty());
  }
  CHECK(o.parse_channel("trade").id == channel::unknown);
  CHECK(o.parse_channel("books50-l2-tbt").id == channel::unknown);
  CHECK(o.login_only_reason("books-l2-tbt").find("60011") != std::string::npos);
  CHECK(o.login_only_reason("books50-l2-tbt").find("60011") != std::string::npos);
  CHECK(o.login_only_reason("books").empty());
}

TEST_CASE("venue descriptors: symbol grammars as the venues spell instruments") {
  const venue_descriptor& b = *find_venue(venue::binance);
  const venue_descriptor& o = *find_venue(venue::okx);
  for (const char* good : {"BTCUSDT", "1000SHIBUSDT", "BNBBTC"}) CHECK(b.symbol_problem(good).empty());
  for (const char* bad : {"", "btcusdt", "BTC-USDT", "BTC_USDT", "BTC/USDT", "BTC USDT"}) {
    CAPTURE(bad);
    CHECK_FALSE(b.symbol_problem(bad).empty());
  }
  for (const char* good : {"BTC-USDT", "BTC-USDT-SWAP", "BTC-USD-250328"}) CHECK(o.symbol_problem(good).empty());
  for (const char* bad : {"", "BTCUSDT", "btc-usdt", "-BTC", "BTC-", "BTC--USDT", "BTC_USDT", "BTC\"-USDT"}) {
    CAPTURE(bad);
    CHECK_FALSE(o.symbol_problem(bad).empty());
  }
  CHECK(b.symbol_problem("btcusdt") == R"("btcusdt" is not a Binance symbol (upper-case letters and digits, e.g. "BTCUSDT"))");
}

TEST_CASE("venue descriptors: connection timing as the venues document it") {
  const venue_descriptor& b = *find_venue(venue::binance);
  const venue_descriptor& o = *find_venue(venue::okx);
  CHECK(b.timing.max_age_ms == 86'400'000);  // 24 h
  CHECK(b.timing.idle_cut_ms == 0);
  CHECK_FALSE(b.timing.max_age_source.empty());
  CHECK(o.timing.max_age_ms == 0);
  CHECK(o.timing.idle_cut_ms == 30'000);  // 30 s of silence
  CHECK_FALSE(o.timing.idle_cut_source.empty());
}

TEST_CASE("venue descriptors: REST and connection limits, documented and with our fraction") {
  for (const venue_descriptor* d : all_venues()) {
    CAPTURE(d->name);
    for (const documented_pace* p : {&d->limits.rest, &d->limits.connect}) {
      CHECK(p->units > 0);
      CHECK(p->window_ms > 0);
      CHECK(p->our_fraction > 0.0);
      CHECK(p->our_fraction <= 1.0);
      CHECK_FALSE(p->source.empty());
    }
    CHECK_FALSE(d->limits.connect.calendar_window);  // attempts are paced over any interval
  }
  const venue_descriptor& b = *find_venue(venue::binance);
  CHECK(b.limits.rest.calendar_window);  // X-MBX-USED-WEIGHT-1M counts per calendar minute
  CHECK(b.limits.rest.units == 6000);
  CHECK(b.limits.rest.window_ms == 60'000);
  CHECK(b.limits.connect.units == 300);
  CHECK(b.limits.connect.window_ms == 300'000);
  const venue_descriptor& o = *find_venue(venue::okx);
  CHECK(o.limits.rest.units == 40);  // books requests per 2 s
  CHECK(o.limits.rest.window_ms == 2'000);
  CHECK(o.limits.connect.units == 3);
  CHECK(o.limits.connect.window_ms == 1'000);
}

TEST_CASE("venue descriptors: Binance USD-M's grammar, routed paths and limits (USD-M Futures docs, 2026-12)") {
  const venue_descriptor& u = *find_venue("binance_usdm");
  CHECK(u.id == venue::binance_usdm);
  CHECK(u.endpoints.stream_host == "fstream.binance.com");
  CHECK(u.endpoints.rest_host == "fapi.binance.com");
  // Change log 2026-04-23: depth and bookTicker on /public, trades on /market.
  CHECK(channel_rule_of(channel::usdm_depth).route == "/public");
  CHECK(channel_rule_of(channel::usdm_depth_partial).route == "/public");
  CHECK(channel_rule_of(channel::usdm_book_ticker).route == "/public");
  CHECK(channel_rule_of(channel::usdm_agg_trade).route == "/market");
  CHECK(channel_rule_of(channel::usdm_trade).route == "/market");
  for (const channel_rule& r : find_venue(venue::binance)->channels) CHECK(r.route.empty());
  for (const channel_rule& r : find_venue(venue::okx)->channels) CHECK(r.route.empty());
  struct row {
    const char* spelling;
    channel id;
    const char* variant;
  };
  for (const row& r : {row{"trade", channel::usdm_trade, ""}, row{"aggTrade", channel::usdm_agg_trade, ""},
                       row{"bookTicker", channel::usdm_book_ticker, ""}, row{"depth", channel::usdm_depth, ""},
                       row{"depth@500ms", channel::usdm_depth, "500ms"}, row{"depth@100ms", channel::usdm_depth, "100ms"},
                       row{"depth@0ms", channel::usdm_depth, "0ms"}, row{"depth5", channel::usdm_depth_partial, "5"},
                       row{"depth20@0ms", channel::usdm_depth_partial, "20@0ms"}, row{"markPrice", channel::usdm_mark_price, ""},
                       row{"markPrice@1s", channel::usdm_mark_price, "1s"}}) {
    CAPTURE(r.spelling);
    CHECK(u.parse_channel(r.spelling).id == r.id);
    CHECK(u.parse_channel(r.spelling).variant == r.variant);
  }
  for (const char* bad : {"depth@1000ms", "markPrice@3s", "markPrice@100ms", "kline_1m", "depth15", "trade@100ms", ""}) {
    CAPTURE(bad);
    CHECK(u.parse_channel(bad).id == channel::unknown);
  }
  CHECK(u.symbol_problem("BTCUSDT").empty());
  CHECK(u.symbol_problem("BTCUSDT_261225").empty());
  CHECK_FALSE(u.symbol_problem("btcusdt").empty());
  CHECK_FALSE(u.symbol_problem("BTC-USDT").empty());
  CHECK_FALSE(u.symbol_problem("_BTCUSDT").empty());
  CHECK(u.limits.rest.units == 2400);
  CHECK(u.limits.rest.calendar_window);
  // "Order Book": 5..50 → 2, 100 → 5, 500 → 10 (the default), 1000 → 20.
  CHECK(usdm_depth_weight(5) == 2);
  CHECK(usdm_depth_weight(50) == 2);
  CHECK(usdm_depth_weight(100) == 5);
  CHECK(usdm_depth_weight(0) == 10);
  CHECK(usdm_depth_weight(500) == 10);
  CHECK(usdm_depth_weight(1000) == 20);
  CHECK(usdm_depth_limit_ok(1000));
  CHECK_FALSE(usdm_depth_limit_ok(5000));
  CHECK_FALSE(usdm_depth_limit_ok(200));
}
