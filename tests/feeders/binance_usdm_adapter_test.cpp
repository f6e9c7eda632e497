// Binance USD-M futures: the adapter against real traffic (bench/data/binance_usdm.jsonl, cut
// from the cryptofeed and hftbacktest captures) checked record by record against an
// independent parse (nlohmann::json and decimal digits counted by hand); the merger's join of
// the diff depth to a REST snapshot that lands while the events straddling it are already in
// (bench/data/binance_usdm_session.txt, as recorded); the venue's routed paths, REST paths and
// payload shapes from the USD-M docs (feeders/CONFORMANCE.md).
#include "bus/merge/arbiter.hpp"
#include "mdbus/venues/registry.hpp"
#include "feeders/venue_adapter.hpp"
#include "tests/feeders/adapter_test_support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

using namespace mdbus;
using namespace mdbus::feed;
using namespace mdbus::feed::test;
using json = nlohmann::json;

namespace {

const std::string kData = MDBUS_BENCH_DATA;

/// "61800.30" → {6180030, -2}, by counting digits: no shared code with parse_decimal.
decimal by_hand(const std::string& text) {
  REQUIRE_FALSE(text.empty());
  std::int64_t m = 0;
  int frac = -1;
  for (const char c : text) {
    if (c == '.') {
      frac = 0;
      continue;
    }
    REQUIRE((c >= '0' && c <= '9'));
    m = m * 10 + (c - '0');
    if (frac >= 0) ++frac;
  }
  return {m, static_cast<std::int8_t>(frac < 0 ? 0 : -frac)};
}

bool equal(decimal a, decimal b) { return a.mantissa == b.mantissa && a.exponent == b.exponent; }

std::string symbol_of(const record_header& h) { return std::string(h.symbol, strnlen(h.symbol, kSymbolCapacity)); }

/// The levels of one side of a book record, in the order the record holds them.
std::vector<std::pair<decimal, decimal>> side_levels(const book_view& b, book_side side) {
  std::vector<std::pair<decimal, decimal>> out;
  for (std::size_t i = 0; i < b.level_count(); ++i)
    if (b.level(i).side == side) out.emplace_back(b.level(i).px(), b.level(i).qty());
  return out;
}

std::vector<std::pair<decimal, decimal>> json_levels(const json& a) {
  std::vector<std::pair<decimal, decimal>> out;
  for (const auto& l : a) out.emplace_back(by_hand(l.at(0).get<std::string>()), by_hand(l.at(1).get<std::string>()));
  return out;
}

void check_header(const record_header& h, const json& d, channel ch) {
  CHECK(h.venue_id == venue::binance_usdm);
  CHECK(h.channel_id == ch);
  CHECK(symbol_of(h) == d.at("s").get<std::string>());
  CHECK(h.venue_time_ns == d.at("E").get<std::int64_t>() * 1'000'000);
  CHECK(h.receive_time_ns == kReceiveNs);
  CHECK(h.slot == slot_id::b);
}

/// The channel a combined stream name stands for on USD-M, by its suffix.
channel channel_of(const std::string& stream) {
  const std::string suffix = stream.substr(stream.find('@') + 1);
  if (suffix == "trade") return channel::usdm_trade;
  if (suffix == "aggTrade") return channel::usdm_agg_trade;
  if (suffix == "bookTicker") return channel::usdm_book_ticker;
  if (suffix.starts_with("depth@") || suffix == "depth") return channel::usdm_depth;
  return channel::unknown;
}

struct recorded_output final : merge::merge_output {
  std::vector<std::vector<std::byte>> published;
  std::vector<gap_record> gaps;
  unsigned resyncs = 0;
  void publish(std::span<const std::byte> r, slot_id) noexcept override { published.emplace_back(r.begin(), r.end()); }
  void publish_gap(const gap_record& g) noexcept override { gaps.push_back(g); }
  void request_resync(venue, channel, std::string_view, slot_id) noexcept override { ++resyncs; }
};

merge::arbiter_options merge_options() {
  merge::arbiter_options o;
  o.max_streams = 16;
  o.hold_bytes_per_stream = 256 * 1024;  // the merger's default (config "merge.hold_bytes_per_stream")
  o.hold_records_per_stream = 1024;
  return o;
}

void offer_all(merge::arbiter& arb, const vector_sink& sink, slot_id from, std::int64_t now) {
  for (std::size_t i = 0; i < sink.size(); ++i) arb.offer(sink.view(i), from, now);
}

}  // namespace

TEST_CASE("binance_usdm: every record from the real USD-M captures equals an independent parse") {
  auto a = make(venue::binance_usdm);
  vector_sink sink;
  std::size_t frames = 0, records = 0, klines = 0, trades = 0, aggs = 0, tickers = 0, depths = 0, levels = 0;
  for (const std::string& line : read_lines(kData + "/binance_usdm.jsonl")) {
    ++frames;
    const json j = json::parse(line);
    const std::string stream = j.at("stream").get<std::string>();
    const json& d = j.at("data");
    CAPTURE(line.substr(0, 160));
    sink.clear();
    const parse_result r = parse(*a, line, sink);
    const channel ch = channel_of(stream);
    if (ch == channel::unknown) {  // kline_1m: a stream we do not decode
      CHECK(r.error == parse_error::unknown_stream);
      CHECK(sink.size() == 0);
      ++klines;
      continue;
    }
    REQUIRE(r.error == parse_error::none);
    REQUIRE(sink.size() == 1);
    ++records;
    const std::string e = d.at("e").get<std::string>();
    if (ch == channel::usdm_trade || ch == channel::usdm_agg_trade) {
      const trade_record t = sink.trade(0);
      check_header(t.header, d, ch);
      CHECK(equal(t.px(), by_hand(d.at("p").get<std::string>())));
      CHECK(equal(t.qty(), by_hand(d.at("q").get<std::string>())));
      CHECK(t.aggressor == (d.at("m").get<bool>() ? aggressor_side::sell : aggressor_side::buy));
      if (ch == channel::usdm_trade) {
        CHECK(e == "trade");
        CHECK(t.header.seq == d.at("t").get<std::uint64_t>());
        CHECK(t.header.flags == kHeaderHasSeq);
        CHECK(t.trade_count == 1);
        ++trades;
      } else {
        CHECK(e == "aggTrade");
        CHECK(t.header.seq == d.at("a").get<std::uint64_t>());
        CHECK(t.header.first_seq == d.at("f").get<std::uint64_t>());
        CHECK(t.first_trade_id == d.at("f").get<std::uint64_t>());
        CHECK(t.last_trade_id == d.at("l").get<std::uint64_t>());
        CHECK(t.trade_count == d.at("l").get<std::uint64_t>() - d.at("f").get<std::uint64_t>() + 1);
        ++aggs;
      }
    } else if (ch == channel::usdm_book_ticker) {
      CHECK(e == "bookTicker");
      const bbo_record b = sink.bbo(0);
      check_header(b.header, d, ch);
      CHECK(b.header.seq == d.at("u").get<std::uint64_t>());
      CHECK(equal(b.bid.px(), by_hand(d.at("b").get<std::string>())));
      CHECK(equal(b.bid.qty(), by_hand(d.at("B").get<std::string>())));
      CHECK(equal(b.ask.px(), by_hand(d.at("a").get<std::string>())));
      CHECK(equal(b.ask.qty(), by_hand(d.at("A").get<std::string>())));
      ++tickers;
    } else {
      CHECK(e == "depthUpdate");
      const book_view b = sink.book(0);
      check_header(b.header(), d, ch);
      CHECK_FALSE(b.is_snapshot());
      CHECK(b.header().first_seq == d.at("U").get<std::uint64_t>());
      CHECK(b.header().seq == d.at("u").get<std::uint64_t>());
      CHECK(b.header().prev_seq == d.at("pu").get<std::int64_t>());
      CHECK(b.header().flags == (kHeaderHasSeq | kHeaderHasFirstSeq | kHeaderHasPrevSeq));
      const auto bids = side_levels(b, book_side::bid);
      const auto asks = side_levels(b, book_side::ask);
      const auto want_bids = json_levels(d.at("b"));
      const auto want_asks = json_levels(d.at("a"));
      REQUIRE(bids.size() == want_bids.size());
      REQUIRE(asks.size() == want_asks.size());
      for (std::size_t i = 0; i < bids.size(); ++i)
        CHECK((equal(bids[i].first, want_bids[i].first) && equal(bids[i].second, want_bids[i].second)));
      for (std::size_t i = 0; i < asks.size(); ++i)
        CHECK((equal(asks[i].first, want_asks[i].first) && equal(asks[i].second, want_asks[i].second)));
      levels += bids.size() + asks.size();
      ++depths;
    }
  }
  // bench/data/README.md: 1535 cryptofeed frames (67 kline) + 999 hftbacktest stream frames.
  CHECK(frames == 2534);
  CHECK(klines == 67);
  CHECK(records == frames - klines);
  CHECK(trades > 100);
  CHECK(aggs == 91);
  CHECK(tickers > 1000);
  CHECK(depths > 800);
  MESSAGE(records << " records (" << trades << " trades, " << aggs << " aggTrades, " << tickers << " bookTickers, " << depths
                  << " depth events with " << levels << " levels) equal the independent parse");
}

TEST_CASE("binance_usdm: the merger joins depth@0ms to a REST snapshot that lands mid-event, with no false gap") {
  // The session as recorded: depth events, bookTickers, trades and, at line 55, the answer of
  // GET /fapi/v1/depth?limit=1000. The events straddling its lastUpdateId arrived before it.
  auto a = make(venue::binance_usdm);
  const subscription depth{channel::usdm_depth, "BTCUSDT", "0ms"};
  merge::merge_output* out_base = nullptr;
  recorded_output out;
  out_base = &out;
  merge::arbiter arb(merge_options(), *out_base);
  vector_sink sink;
  std::uint64_t snapshot_id = 0;
  std::vector<json> events;  // every depth event, in arrival order
  std::int64_t now = 1'000'000'000;
  for (const std::string& line : read_lines(kData + "/binance_usdm_session.txt")) {
    const std::string text = line.substr(line.find(' ') + 1);
    sink.clear();
    now += 1'000'000;
    if (text.starts_with("{\"lastUpdateId\"")) {
      REQUIRE(snapshot_id == 0);
      REQUIRE(parse_snapshot(*a, depth, text, sink).error == parse_error::none);
      snapshot_id = json::parse(text).at("lastUpdateId").get<std::uint64_t>();
    } else {
      REQUIRE(parse(*a, text, sink).error == parse_error::none);
      const json j = json::parse(text);
      if (j.at("stream") == "btcusdt@depth@0ms") events.push_back(j.at("data"));
    }
    offer_all(arb, sink, slot_id::a, now);
    arb.tick(now);
  }
  REQUIRE(snapshot_id == 5123107852948ULL);
  CHECK(out.gaps.empty());
  CHECK(out.resyncs == 1);  // the stream began with a delta: one snapshot asked for, none after

  // What the docs' procedure applies: drop u < lastUpdateId; the first applied event has
  // U <= lastUpdateId <= u; every later one has pu == the previous u.
  std::vector<std::uint64_t> applied;
  bool joined = false;
  std::uint64_t prev_u = 0;
  for (const json& e : events) {
    const auto U = e.at("U").get<std::uint64_t>(), u = e.at("u").get<std::uint64_t>();
    const auto pu = e.at("pu").get<std::uint64_t>();
    if (!joined) {
      if (u < snapshot_id) continue;
      REQUIRE(U <= snapshot_id);
      // The first applied event does not chain on the snapshot: a chain rule would have
      // called it a hole (this is what join_rule::spans is for).
      CHECK(pu != snapshot_id);
      joined = true;
    } else {
      REQUIRE(pu == prev_u);
    }
    applied.push_back(u);
    prev_u = u;
  }
  REQUIRE(applied.size() > 20);

  // What the merger published for the depth stream: the snapshot, then exactly those events.
  std::vector<std::uint64_t> deltas;
  bool snapshot_first = false;
  for (const auto& bytes : out.published) {
    record_view v;
    REQUIRE(record_view::parse(bytes, v) == record_status::ok);
    if (v.header().channel_id != channel::usdm_depth) continue;
    if (v.type() == record_type::book_snapshot) {
      snapshot_first = deltas.empty();
      CHECK(v.header().seq == snapshot_id);
      continue;
    }
    deltas.push_back(v.header().seq);
  }
  CHECK(snapshot_first);
  CHECK(deltas == applied);
  const merge::stream_stats* s = arb.stream(venue::binance_usdm, channel::usdm_depth, "BTCUSDT");
  REQUIRE(s != nullptr);
  CHECK(s->gaps == 0);
  // The trades and bookTickers of the session passed with no gap either (t counts up by one).
  CHECK(arb.stream(venue::binance_usdm, channel::usdm_trade, "BTCUSDT")->gaps == 0);
}

TEST_CASE("binance_usdm: the join rule's edges: a snapshot ending at an event's u, and one too old for the stream") {
  auto a = make(venue::binance_usdm);
  const subscription depth{channel::usdm_depth, "BTCUSDT", "100ms"};
  auto event = [](std::uint64_t U, std::uint64_t u, std::uint64_t pu) {
    return R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":)" +
           std::to_string(U) + R"(,"u":)" + std::to_string(u) + R"(,"pu":)" + std::to_string(pu) +
           R"(,"b":[["61800.20","1.000"]],"a":[]}})";
  };
  auto snapshot = [](std::uint64_t id) {
    return R"({"lastUpdateId":)" + std::to_string(id) +
           R"(,"E":1723161256501,"T":1723161256493,"bids":[["61800.20","2.909"]],"asks":[["61800.30","1.000"]]})";
  };
  struct step {
    std::string text;
    bool is_snapshot;
  };
  auto run = [&](const std::vector<step>& steps, recorded_output& out) {
    merge::arbiter arb(merge_options(), out);
    vector_sink sink;
    std::int64_t now = 1'000'000'000;
    for (const step& s : steps) {
      sink.clear();
      now += 1'000'000;
      const parse_result r = s.is_snapshot ? parse_snapshot(*a, depth, s.text, sink) : parse(*a, s.text, sink);
      REQUIRE(r.error == parse_error::none);
      offer_all(arb, sink, slot_id::a, now);
      arb.tick(now);
    }
    arb.tick(now + 10'000'000'000);
    std::string trace;
    for (const auto& bytes : out.published) {
      record_view v;
      REQUIRE(record_view::parse(bytes, v) == record_status::ok);
      trace += (v.type() == record_type::book_snapshot ? "S" : "d") + std::to_string(v.header().seq) + " ";
    }
    return trace;
  };
  SUBCASE("lastUpdateId == an event's u: that event is in the snapshot, the next one chains on pu == lastUpdateId") {
    recorded_output out;
    // U of the next event is above lastUpdateId (USD-M ids are not consecutive): only pu joins it.
    CHECK(run({{event(100, 120, 90), false}, {event(130, 150, 120), false}, {snapshot(120), true},
               {event(170, 190, 150), false}},
              out) == "S120 d150 d190 ");
    CHECK(out.gaps.empty());
  }
  SUBCASE("a snapshot older than the events (U > lastUpdateId, pu != lastUpdateId): a hole, a gap, a new snapshot asked for") {
    // The docs' step "if lastUpdateId < U of the first buffered event, fetch again".
    recorded_output out;
    CHECK(run({{event(100, 120, 90), false}, {snapshot(95), true}, {event(130, 150, 120), false}}, out) == "S95 ");
    REQUIRE(out.gaps.size() == 1);
    CHECK(out.gaps[0].last_seq_held == 95);
    CHECK(out.resyncs == 2);  // at the start and after the gap
  }
}

TEST_CASE("binance_usdm: routed paths: one connection per path, streams in the URL") {
  auto a = make(venue::binance_usdm);
  const std::vector<subscription> pub{{channel::usdm_depth, "BTCUSDT", "100ms"},
                                      {channel::usdm_book_ticker, "ETHUSDT", ""},
                                      {channel::usdm_depth_partial, "BTCUSDT", "20@0ms"}};
  CHECK(a->ws_path(pub) == "/public/stream?streams=btcusdt@depth@100ms/ethusdt@bookTicker/btcusdt@depth20@0ms");
  const std::vector<subscription> market{{channel::usdm_agg_trade, "BTCUSDT", ""}, {channel::usdm_trade, "ETHUSDT", ""}};
  CHECK(a->ws_path(market) == "/market/stream?streams=btcusdt@aggTrade/ethusdt@trade");
  CHECK(a->subscribe_messages(pub).empty());
  const std::vector<subscription> both{{channel::usdm_depth, "BTCUSDT", ""}, {channel::usdm_agg_trade, "BTCUSDT", ""}};
  CHECK_THROWS_WITH_AS(a->ws_path(both),
                       "binance_usdm: depth (/public) and aggTrade (/market) are served on different paths: one "
                       "connection serves one path",
                       std::invalid_argument);
  CHECK_THROWS_AS(a->ws_path(std::vector<subscription>{{channel::binance_depth, "BTCUSDT", ""}}), std::invalid_argument);
  CHECK_THROWS_AS(a->ws_path(std::vector<subscription>{{channel::usdm_depth, "BTCUSDT", "1000ms"}}), std::invalid_argument);
  CHECK_THROWS_AS(a->ws_path(std::vector<subscription>{{channel::usdm_depth, "btcusdt", ""}}), std::invalid_argument);
  CHECK(a->resubscribe_messages(market) ==
        std::vector<std::string>{R"({"method":"UNSUBSCRIBE","params":["btcusdt@aggTrade","ethusdt@trade"],"id":1})",
                                 R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade","ethusdt@trade"],"id":2})"});
  CHECK(a->keepalive_text().empty());  // the server pings every 3 minutes; lws answers
}

TEST_CASE("binance_usdm: REST on fapi: /fapi/v1/depth at 1000 levels (weight 20), /fapi/v1/exchangeInfo (weight 1)") {
  auto a = make(venue::binance_usdm);
  const subscription depth{channel::usdm_depth, "BTCUSDT", "0ms"};
  CHECK(a->snapshot_path(depth, 1000) == "/fapi/v1/depth?symbol=BTCUSDT&limit=1000");
  CHECK_THROWS_AS((void)a->snapshot_path(depth, 5000), std::invalid_argument);  // spot's maximum, not USD-M's
  CHECK_THROWS_AS((void)a->snapshot_path({channel::usdm_book_ticker, "BTCUSDT", ""}, 100), std::invalid_argument);
  const resync_plan p = a->resync_plan_for(channel::usdm_depth);
  CHECK(p.method == resync_method::rest_snapshot);
  CHECK(p.rest_depth == 1000);
  CHECK(p.rest_cost == 20);
  CHECK(a->resync_plan_for(channel::usdm_depth_partial).method == resync_method::none);
  CHECK(a->resync_plan_for(channel::binance_depth).method == resync_method::none);
  const std::vector<std::string> syms{"BTCUSDT", "ETHUSDT"};
  CHECK(a->instruments_path(syms) == "/fapi/v1/exchangeInfo");
  CHECK(a->instruments_cost() == 1);
  const std::string body =
      R"({"timezone":"UTC","symbols":[{"symbol":"BTCUSDT","pair":"BTCUSDT","contractType":"PERPETUAL","status":"TRADING"},)"
      R"({"symbol":"ETHUSDT","pair":"ETHUSDT","contractType":"PERPETUAL","status":"SETTLING"}]})";
  const instrument_check c = a->check_instruments(200, body, syms);
  CHECK(c.result == instrument_check::outcome::refused);
  REQUIRE(c.problems.size() == 1);
  CHECK(c.problems[0].find("ETHUSDT") != std::string::npos);
  CHECK(c.problems[0].find("Binance USD-M") != std::string::npos);
  CHECK(a->check_instruments(200, body, std::vector<std::string>{"BTCUSDT"}).result == instrument_check::outcome::ok);

  // Reference data ("Exchange Information", 2026-12): contractType says perpetual or dated
  // future; sizes are in the base asset (contract value 1 baseAsset); PRICE_FILTER.tickSize,
  // LOT_SIZE.stepSize (not MARKET_LOT_SIZE's).
  const std::string info =
      R"({"timezone":"UTC","symbols":[{"symbol":"BLZUSDT","pair":"BLZUSDT","contractType":"PERPETUAL",)"
      R"("deliveryDate":4133404800000,"onboardDate":1598252400000,"status":"TRADING","baseAsset":"BLZ",)"
      R"("quoteAsset":"USDT","marginAsset":"USDT","pricePrecision":5,"quantityPrecision":0,"filters":[)"
      R"({"filterType":"PRICE_FILTER","maxPrice":"300","minPrice":"0.0001","tickSize":"0.0001"},)"
      R"({"filterType":"LOT_SIZE","maxQty":"10000000","minQty":"1","stepSize":"1"},)"
      R"({"filterType":"MARKET_LOT_SIZE","maxQty":"590119","minQty":"1","stepSize":"10"}]},)"
      R"({"symbol":"BTCUSDT_261225","pair":"BTCUSDT","contractType":"CURRENT_QUARTER","status":"TRADING",)"
      R"("baseAsset":"BTC","quoteAsset":"USDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.10"},)"
      R"({"filterType":"LOT_SIZE","stepSize":"0.001"}]}]})";
  const instrument_check r = a->check_instruments(200, info, std::vector<std::string>{"BLZUSDT", "BTCUSDT_261225"});
  REQUIRE(r.result == instrument_check::outcome::ok);
  REQUIRE(r.instruments.size() == 2);
  CHECK(r.instruments[0].header.venue_id == venue::binance_usdm);
  CHECK(r.instruments[0].kind == instrument_kind::perpetual);
  CHECK(same(r.instruments[0].contract_value(), "1"));
  CHECK(r.instruments[0].contract_currency_view() == "BLZ");
  CHECK(same(r.instruments[0].tick_size(), "0.0001"));
  CHECK(same(r.instruments[0].lot_size(), "1"));
  CHECK(r.instruments[1].kind == instrument_kind::future);
  CHECK(same(r.instruments[1].tick_size(), "0.10"));

  // The REST answer carries E and T besides lastUpdateId; an error body is a venue_error.
  vector_sink sink;
  REQUIRE(parse_snapshot(*a, depth, read_lines(kData + "/binance_usdm_session.txt")[54].substr(20), sink).error ==
          parse_error::none);
  const book_view b = sink.book(0);
  CHECK(b.is_snapshot());
  CHECK((b.header().flags & kHeaderFromRest) != 0);
  CHECK(b.header().venue_time_ns == 1723161256501LL * 1'000'000);
  CHECK(b.header().venue_id == venue::binance_usdm);
  sink.clear();
  const parse_result err = parse_snapshot(*a, depth, R"({"code":-1121,"msg":"Invalid symbol."})", sink);
  CHECK(err.error == parse_error::venue_error);
  CHECK(err.detail == "Invalid symbol.");
}

TEST_CASE("binance_usdm: payload shapes of the docs: partial depth is a depthUpdate, pu is required, new fields are ignored") {
  auto a = make(venue::binance_usdm);
  vector_sink sink;
  SUBCASE("partial depth: U, u, pu and the top levels: a snapshot with u as its id") {
    const parse_result r = parse(
        *a,
        R"({"stream":"btcusdt@depth5@100ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,"b":[["61800.20","2.507"],["61800.10","0.696"]],"a":[["61800.30","2.510"]],"st":1,"ps":"BTCUSDT"}})",
        sink);
    REQUIRE(r.error == parse_error::none);
    const book_view b = sink.book(0);
    CHECK(b.is_snapshot());
    CHECK(b.header().channel_id == channel::usdm_depth_partial);
    CHECK(b.header().seq == 5123107837557ULL);
    CHECK(b.header().flags == kHeaderHasSeq);
    CHECK(b.level_count() == 3);
    CHECK((b.first_part() && b.last_part()));
  }
  SUBCASE("diff depth without pu: missing_field, no record") {
    const parse_result r = parse(
        *a,
        R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":5,"u":6,"b":[],"a":[["1.0","1"]]}})",
        sink);
    CHECK(r.error == parse_error::missing_field);
    CHECK(r.detail == "depthUpdate.pu");
    CHECK(sink.size() == 0);
  }
  SUBCASE("aggTrade with nq (RPI excluded) and st, ps (CM-UM integration): read as before") {
    const parse_result r = parse(
        *a,
        R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1723161256322,"a":26129,"s":"BTCUSDT","p":"61800.30","q":"0.206","nq":"0.200","f":100,"l":105,"T":1723161256322,"m":true,"st":1}})",
        sink);
    REQUIRE(r.error == parse_error::none);
    const trade_record t = sink.trade(0);
    CHECK(t.header.channel_id == channel::usdm_agg_trade);
    CHECK(same(t.qty(), "0.206"));
    CHECK(t.trade_count == 6);
    CHECK(t.aggressor == aggressor_side::sell);
  }
  SUBCASE("subscriptions set: another venue's stream name is refused") {
    a->set_subscriptions(std::vector<subscription>{{channel::usdm_depth, "BTCUSDT", "100ms"}});
    const parse_result r = parse(
        *a,
        R"({"stream":"btcusdt@depth@1000ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":5,"u":6,"pu":4,"b":[],"a":[["1.0","1"]]}})",
        sink);
    CHECK(r.error == parse_error::unknown_stream);
  }
}

TEST_CASE("binance_usdm: corrupted recorded messages never crash and never yield an invalid record") {
  auto a = make(venue::binance_usdm);
  corrupt_and_parse(*a, read_lines(kData + "/binance_usdm.jsonl"), 8);
  a->set_subscriptions(std::vector<subscription>{{channel::usdm_depth, "BTCUSDT", "0ms"}, {channel::usdm_book_ticker, "BTCUSDT", ""}});
  corrupt_and_parse(*a, read_lines(kData + "/binance_usdm.jsonl"), 2);
}

// USD-M "Mark Price Stream" (2026-12): the docs' example, field by field.
constexpr std::string_view kMarkPriceDoc =
    R"({"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000})";

TEST_CASE("binance_usdm: markPrice[@1s] → one mark_funding record with mark, index, settle price, funding rate and time") {
  auto a = make(venue::binance_usdm);
  vector_sink sink;
  SUBCASE("the docs' example, in a combined stream on /market") {
    const std::vector<subscription> subs{{channel::usdm_mark_price, "BTCUSDT", "1s"}, {channel::usdm_mark_price, "ETHUSDT", ""}};
    CHECK(a->ws_path(subs) == "/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice");
    a->set_subscriptions(subs);
    const parse_result r = parse(*a, R"({"stream":"btcusdt@markPrice@1s","data":)" + std::string(kMarkPriceDoc) + "}", sink);
    REQUIRE(r.error == parse_error::none);
    REQUIRE(sink.size() == 1);
    CHECK(sink.types[0] == record_type::mark_funding);
    const mark_funding_record m = sink.mark_funding(0);
    CHECK(m.header.venue_id == venue::binance_usdm);
    CHECK(m.header.channel_id == channel::usdm_mark_price);
    CHECK(m.header.symbol_view() == "BTCUSDT");
    CHECK(m.header.flags == kHeaderHasSeq);  // no venue id: the event time orders the pushes
    CHECK(m.header.seq == 1562305380000ULL);
    CHECK(m.header.venue_time_ns == 1562305380000LL * 1'000'000);
    CHECK(m.header.receive_time_ns == kReceiveNs);
    CHECK(m.fields == (kHasMarkPx | kHasIndexPx | kHasSettlePx | kHasFundingRate | kHasFundingTime));
    CHECK(same(m.mark_px(), "11794.15000000"));
    CHECK(same(m.index_px(), "11784.62659091"));
    CHECK(same(m.settle_px(), "11784.25641265"));
    CHECK(same(m.funding_rate(), "0.00038167"));
    CHECK(m.funding_time_ns == 1562306400000LL * 1'000'000);
  }
  SUBCASE("a raw stream (/market/ws/btcusdt@markPrice): the event names itself") {
    REQUIRE(parse(*a, kMarkPriceDoc, sink).error == parse_error::none);
    CHECK(sink.mark_funding(0).header.channel_id == channel::usdm_mark_price);
    CHECK(sink.mark_funding(0).header.symbol_view() == "BTCUSDT");
  }
  SUBCASE("a delivery contract: \"r\":\"\" and \"T\":0 mean no funding, not a zero rate") {
    REQUIRE(parse(*a,
                  R"({"stream":"btcusdt_251226@markPrice","data":{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSDT_251226","p":"10934.62615417","P":"10962.17178236","i":"10933.62615417","r":"","T":0}})",
                  sink)
                .error == parse_error::none);
    const mark_funding_record m = sink.mark_funding(0);
    CHECK(m.fields == (kHasMarkPx | kHasIndexPx | kHasSettlePx));
    CHECK_FALSE(m.has(kHasFundingRate));
    CHECK(m.funding_rate_mantissa == 0);
    CHECK(m.funding_time_ns == 0);
  }
  SUBCASE("a negative funding rate is a rate (shorts pay longs)") {
    REQUIRE(parse(*a, R"({"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1.5","i":"1.4","P":"1.4","r":"-0.00012000","T":2})", sink)
                .error == parse_error::none);
    CHECK(same(sink.mark_funding(0).funding_rate(), "-0.00012000"));
  }
  SUBCASE("bad input: no mark price, a zero mark, a bad rate, the wrong event type: an error, no record") {
    const std::pair<std::string_view, parse_error> bad[] = {
        {R"({"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","i":"1","r":"0.1","T":2}})",
         parse_error::missing_field},
        {R"({"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"0","T":2}})",
         parse_error::invalid_value},
        {R"({"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","r":"x","T":2}})",
         parse_error::bad_number},
        {R"({"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1","r":0.1,"T":2}})",
         parse_error::wrong_type},
        {R"({"stream":"btcusdt@markPrice","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"1"}})", parse_error::unexpected_shape},
        {R"({"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","E":1,"s":"ETHUSDT","p":"1"}})", parse_error::unknown_stream},
    };
    for (const auto& [text, want] : bad) {
      CAPTURE(text);
      sink.clear();
      CHECK(parse(*a, text, sink).error == want);
      CHECK(sink.size() == 0);
    }
  }
  SUBCASE("the grammar: markPrice and markPrice@1s only, on /market") {
    CHECK_THROWS_AS((void)a->ws_path(std::vector<subscription>{{channel::usdm_mark_price, "BTCUSDT", "100ms"}}), std::invalid_argument);
    CHECK_THROWS_AS((void)a->ws_path(std::vector<subscription>{{channel::usdm_mark_price, "BTCUSDT", ""},
                                                               {channel::usdm_depth, "BTCUSDT", "100ms"}}),
                    std::invalid_argument);  // /market and /public: two connections
    CHECK(venues::binance_usdm().parse_channel("markPrice@1s").id == channel::usdm_mark_price);
    CHECK(venues::binance_usdm().parse_channel("markPrice@1s").variant == "1s");
    CHECK(venues::binance_usdm().parse_channel("markPrice@3s").id == channel::unknown);
    CHECK(venues::binance().parse_channel("markPrice").id == channel::unknown);  // spot has none
    CHECK(channel_rule_of(channel::usdm_mark_price).route == "/market");
  }
}

TEST_CASE("binance_usdm: corrupted markPrice events never crash and never yield an invalid record") {
  auto a = make(venue::binance_usdm);
  corrupt_and_parse(*a,
                    {R"({"stream":"btcusdt@markPrice@1s","data":)" + std::string(kMarkPriceDoc) + "}", std::string(kMarkPriceDoc),
                     R"({"stream":"btcusdt_251226@markPrice","data":{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSDT_251226","p":"10934.62615417","P":"10962.17178236","i":"10933.62615417","r":"","T":0}})"},
                    3000);
}
