// Binance spot adapter on real-shaped payloads (lines copied from the captures in
// tests/data/captures, see bench/data/make_data.sh) and on every kind of malformed input.
#include "feeders/venue_adapter.hpp"
#include "tests/feeders/adapter_test_support.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace mdbus;
using namespace mdbus::feed;
using namespace mdbus::feed::test;

namespace {

// hftbacktest spot capture, 2024-08-08.
constexpr std::string_view kTrade =
    R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}})";
constexpr std::string_view kBookTicker =
    R"({"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}})";
constexpr std::string_view kDepth =
    R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],"a":[["61838.04000000","0.32332000"],["61844.30000000","0.40163000"],["61862.50000000","0.05019000"],["61862.51000000","0.00000000"]]}})";
// cryptofeed BINANCE capture, 2021-10-12.
constexpr std::string_view kAggTrade =
    R"({"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}})";
constexpr std::string_view kDepthNoBids =
    R"({"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1633998513068,"s":"NKNUSDT","U":499869760,"u":499869760,"b":[],"a":[["0.35380000","3027.00000000"]]}})";
constexpr std::string_view kKline =
    R"({"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1633998523963,"s":"NKNUSDT","k":{"t":1633998480000,"T":1633998539999,"s":"NKNUSDT","i":"1m","f":19862761,"L":19862790,"o":"0.35270000","c":"0.35280000","h":"0.35280000","l":"0.35220000","v":"25877.00000000","n":30,"x":false,"q":"9116.04600000","V":"58.00000000","Q":"20.46240000","B":"0"}}})";
// cryptofeed BINANCE_FUTURES capture (USD-M): depth carries T and pu.
constexpr std::string_view kFuturesDepth =
    R"({"stream":"sushiusdt@depth@100ms","data":{"e":"depthUpdate","E":1626992741037,"T":1626992741024,"s":"SUSHIUSDT","U":600859599090,"u":600859600917,"pu":600859598061,"b":[["7.5040","813"],["7.6090","0"],["7.6110","2"]],"a":[["7.6150","1563"],["7.6220","3284"]]}})";
// Partial depth as web-socket-streams.md shows it: no symbol, no event time.
constexpr std::string_view kPartial =
    R"({"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":160,"bids":[["0.0024","10"],["0.0023","0.5"]],"asks":[["0.0026","100"]]}})";

std::string trade_with(std::string_view field_json) {
  // A trade whose fields after "e" are replaced by `field_json`.
  return R"({"stream":"btcusdt@trade","data":{"e":"trade",)" + std::string(field_json) + "}}";
}

void check_stream(const record_header& h, channel ch, std::string_view symbol) {
  CHECK(h.version == kRecordLayoutVersion);
  CHECK(h.venue_id == venue::binance);
  CHECK(h.channel_id == ch);
  CHECK(h.slot == slot_id::b);
  CHECK(h.symbol_view() == symbol);
  CHECK(h.receive_time_ns == kReceiveNs);
  CHECK(h.publish_time_ns == 0);
}

}  // namespace

TEST_CASE("binance: ws_path puts every stream in one combined-stream URL") {
  auto a = make(venue::binance);
  const subscription subs[] = {{channel::binance_trade, "BTCUSDT", ""},
                               {channel::binance_agg_trade, "ETHUSDT", ""},
                               {channel::binance_book_ticker, "BTCUSDT", ""},
                               {channel::binance_depth, "BTCUSDT", "100ms"},
                               {channel::binance_depth, "BNBBTC", ""},
                               {channel::binance_depth_partial, "BTCUSDT", "5"},
                               {channel::binance_depth_partial, "BTCUSDT", "20@100ms"}};
  CHECK(a->ws_path(subs) ==
        "/stream?streams=btcusdt@trade/ethusdt@aggTrade/btcusdt@bookTicker/btcusdt@depth@100ms/bnbbtc@depth/"
        "btcusdt@depth5/btcusdt@depth20@100ms");
  CHECK(a->subscribe_messages(subs).empty());
  CHECK(a->keepalive_text().empty());  // the server pings with frames; the transport pongs
  CHECK(a->id() == venue::binance);
  CHECK(a->ws_path({}) == "/stream");
}

TEST_CASE("binance: UNSUBSCRIBE names the streams, and only the diff depth resyncs, from a REST snapshot") {
  auto a = make(venue::binance);
  const subscription subs[] = {{channel::binance_depth, "BTCUSDT", "100ms"}, {channel::binance_trade, "ETHUSDT", ""}};
  const auto msgs = a->unsubscribe_messages(subs);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0] == R"({"method":"UNSUBSCRIBE","params":["btcusdt@depth@100ms","ethusdt@trade"],"id":1})");
  // The stale-stream cure works on URL streams too: UNSUBSCRIBE, then SUBSCRIBE.
  const auto re = a->resubscribe_messages(subs);
  REQUIRE(re.size() == 2);
  CHECK(re[0] == R"({"method":"UNSUBSCRIBE","params":["btcusdt@depth@100ms","ethusdt@trade"],"id":1})");
  CHECK(re[1] == R"({"method":"SUBSCRIBE","params":["btcusdt@depth@100ms","ethusdt@trade"],"id":2})");
  CHECK(a->unsubscribe_messages({}).empty());
  const subscription bad{channel::binance_trade, "BTC/USDT", ""};
  CHECK_THROWS_AS((void)a->unsubscribe_messages(std::span<const subscription>(&bad, 1)), std::invalid_argument);
  const resync_plan depth = a->resync_plan_for(channel::binance_depth);
  CHECK(depth.method == resync_method::rest_snapshot);
  CHECK(depth.rest_depth == 1000);
  CHECK(a->snapshot_path({channel::binance_depth, "BTCUSDT", "100ms"}, depth.rest_depth) == "/api/v3/depth?symbol=BTCUSDT&limit=1000");
  CHECK(a->resync_plan_for(channel::binance_depth_partial).method == resync_method::none);
  CHECK(a->resync_plan_for(channel::binance_book_ticker).method == resync_method::none);
  CHECK(a->resync_plan_for(channel::okx_books).method == resync_method::none);
}

TEST_CASE("binance: bad subscriptions are refused at set-up") {
  auto a = make(venue::binance);
  auto path = [&](subscription s) { return a->ws_path(std::span<const subscription>(&s, 1)); };
  CHECK_THROWS_AS(path({channel::binance_trade, "BTCUSDT", "100ms"}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::binance_depth, "BTCUSDT", "250ms"}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::binance_depth_partial, "BTCUSDT", "7"}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::binance_depth_partial, "BTCUSDT", ""}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::okx_books, "BTCUSDT", ""}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::binance_trade, "BTC/USDT", ""}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::binance_trade, "", ""}), std::invalid_argument);
  // One symbol grammar, the venue descriptor's: the adapter refuses what the config refuses,
  // in the same words (it used to take lower case, '_' and '-').
  CHECK_THROWS_WITH_AS(path({channel::binance_trade, "btcusdt", ""}),
                       R"(binance: "btcusdt" is not a Binance symbol (upper-case letters and digits, e.g. "BTCUSDT"))",
                       std::invalid_argument);
  CHECK_THROWS_AS(path({channel::binance_trade, "BTC_USDT", ""}), std::invalid_argument);
}

TEST_CASE("binance: snapshot_path asks REST for the depth of one symbol") {
  auto a = make(venue::binance);
  CHECK(a->snapshot_path({channel::binance_depth, "BTCUSDT", "100ms"}, 5000) == "/api/v3/depth?symbol=BTCUSDT&limit=5000");
  CHECK_THROWS_AS((void)a->snapshot_path({channel::binance_depth, "BTCUSDT", ""}, 0), std::invalid_argument);
  CHECK_THROWS_AS((void)a->snapshot_path({channel::binance_trade, "BTCUSDT", ""}, 100), std::invalid_argument);
}

TEST_CASE("binance: trade → trade record with t as sequence and the seller as aggressor when m") {
  auto a = make(venue::binance);
  vector_sink sink;
  const auto r = parse(*a, kTrade, sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::none);
  REQUIRE(r.records == 1);
  REQUIRE(sink.size() == 1);
  const auto t = sink.trade(0);
  check_stream(t.header, channel::binance_trade, "BTCUSDT");
  CHECK(t.header.flags == kHeaderHasSeq);
  CHECK(t.header.seq == 3735683259U);
  CHECK(t.header.venue_time_ns == 1723161255343LL * 1'000'000);
  CHECK(same(t.px(), "61837.63000000"));
  CHECK(t.px_mantissa == 6183763000000);
  CHECK(t.px_exponent == -8);
  CHECK(same(t.qty(), "0.02000000"));
  CHECK(t.aggressor == aggressor_side::sell);
  CHECK(t.trade_count == 1);
  CHECK(t.first_trade_id == 0);
  CHECK(t.last_trade_id == 0);
}

TEST_CASE("binance: aggTrade → trade record with a as sequence and f..l as the trades it stands for") {
  auto a = make(venue::binance);
  vector_sink sink;
  REQUIRE(parse(*a, kAggTrade, sink).records == 1);
  const auto t = sink.trade(0);
  check_stream(t.header, channel::binance_agg_trade, "NKNUSDT");
  CHECK(t.header.flags == (kHeaderHasSeq | kHeaderHasFirstSeq));
  CHECK(t.header.seq == 15683430U);
  CHECK(t.header.first_seq == 19862790U);
  CHECK(t.first_trade_id == 19862790U);
  CHECK(t.last_trade_id == 19862790U);
  CHECK(t.trade_count == 1);
  CHECK(t.aggressor == aggressor_side::buy);  // m false: the buyer took liquidity
  CHECK(same(t.px(), "0.35280000"));
  CHECK(same(t.qty(), "58.00000000"));

  sink.clear();
  const std::string multi =
      R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":7,"p":"1.0","q":"2.0","f":100,"l":102,"T":1,"m":true,"M":true}})";
  REQUIRE(parse(*a, multi, sink).records == 1);
  CHECK(sink.trade(0).trade_count == 3);
  CHECK(sink.trade(0).aggressor == aggressor_side::sell);
}

TEST_CASE("binance: bookTicker → bbo with u as sequence and no venue time") {
  auto a = make(venue::binance);
  vector_sink sink;
  REQUIRE(parse(*a, kBookTicker, sink).records == 1);
  const auto b = sink.bbo(0);
  check_stream(b.header, channel::binance_book_ticker, "BTCUSDT");
  CHECK(b.header.flags == kHeaderHasSeq);
  CHECK(b.header.seq == 50093239212U);
  CHECK(b.header.venue_time_ns == 0);
  CHECK(b.bid.side == book_side::bid);
  CHECK(b.ask.side == book_side::ask);
  CHECK(same(b.bid.px(), "61837.63000000"));
  CHECK(same(b.bid.qty(), "3.78826000"));
  CHECK(same(b.ask.px(), "61837.64000000"));
  CHECK(same(b.ask.qty(), "1.54698000"));
}

TEST_CASE("binance: futures bookTicker with e, T and E keeps E as venue time") {
  auto a = make(venue::binance);
  vector_sink sink;
  const std::string_view msg =
      R"({"stream":"sushiusdt@bookTicker","data":{"e":"bookTicker","u":600859603936,"s":"SUSHIUSDT","b":"7.6110","B":"6","a":"7.6120","A":"297","T":1626992741163,"E":1626992741167}})";
  REQUIRE(parse(*a, msg, sink).records == 1);
  CHECK(sink.bbo(0).header.venue_time_ns == 1626992741167LL * 1'000'000);
  CHECK(same(sink.bbo(0).ask.qty(), "297"));
}

TEST_CASE("binance: diff depth → one book delta with U, u and every level, 0 quantities kept as deletes") {
  auto a = make(venue::binance);
  vector_sink sink;
  REQUIRE(parse(*a, kDepth, sink).records == 1);
  const auto b = sink.book(0);
  check_stream(b.header(), channel::binance_depth, "BTCUSDT");
  CHECK(b.header().type == record_type::book_delta);
  CHECK(b.header().flags == (kHeaderHasSeq | kHeaderHasFirstSeq));
  CHECK(b.header().first_seq == 50093239203U);
  CHECK(b.header().seq == 50093239207U);
  CHECK(b.header().venue_time_ns == 1723161255308LL * 1'000'000);
  CHECK(b.first_part());
  CHECK(b.last_part());
  CHECK(b.fixed().part_index == 0);
  CHECK_FALSE(b.checksum().has_value());
  REQUIRE(b.level_count() == 5);
  CHECK(b.level(0).side == book_side::bid);
  CHECK(same(b.level(0).px(), "55653.87000000"));
  CHECK(b.level(0).qty_mantissa == 0);  // delete
  CHECK(b.level(0).qty_exponent == -8);
  for (std::size_t i = 1; i < 5; ++i) CHECK(b.level(i).side == book_side::ask);
  CHECK(same(b.level(3).px(), "61862.50000000"));
  CHECK(same(b.level(3).qty(), "0.05019000"));
  CHECK(is_zero(b.level(4).qty()));
}

TEST_CASE("binance: depth with empty sides gives a delta with only the other side, or none") {
  auto a = make(venue::binance);
  vector_sink sink;
  REQUIRE(parse(*a, kDepthNoBids, sink).records == 1);
  REQUIRE(sink.book(0).level_count() == 1);
  CHECK(sink.book(0).level(0).side == book_side::ask);
  sink.clear();
  REQUIRE(parse(*a, R"({"stream":"nknusdt@depth","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":5,"u":5,"b":[],"a":[]}})", sink).records == 1);
  CHECK(sink.book(0).level_count() == 0);
  CHECK(sink.view(0).bytes().size() == sizeof(book_record));
}

TEST_CASE("binance: futures depth carries pu as prev_seq") {
  auto a = make(venue::binance);
  vector_sink sink;
  REQUIRE(parse(*a, kFuturesDepth, sink).records == 1);
  const auto b = sink.book(0);
  CHECK(b.header().flags == (kHeaderHasSeq | kHeaderHasFirstSeq | kHeaderHasPrevSeq));
  CHECK(b.header().prev_seq == 600859598061);
  CHECK(b.header().symbol_view() == "SUSHIUSDT");
  CHECK(b.level_count() == 5);
  CHECK(same(b.level(1).qty(), "0"));
}

TEST_CASE("binance: partial depth → book snapshot named by the combined stream") {
  auto a = make(venue::binance);
  vector_sink sink;
  REQUIRE(parse(*a, kPartial, sink).records == 1);
  const auto b = sink.book(0);
  check_stream(b.header(), channel::binance_depth_partial, "BTCUSDT");
  CHECK(b.header().type == record_type::book_snapshot);
  CHECK(b.header().flags == kHeaderHasSeq);
  CHECK(b.header().seq == 160U);
  CHECK(b.header().venue_time_ns == 0);
  CHECK(b.first_part());
  CHECK(b.last_part());
  REQUIRE(b.level_count() == 3);
  CHECK(same(b.level(1).qty(), "0.5"));
  CHECK(b.level(2).side == book_side::ask);
}

TEST_CASE("binance: field order does not matter, data before stream included") {
  auto a = make(venue::binance);
  vector_sink sink;
  const std::string_view shuffled =
      R"({"data":{"M":true,"m":false,"T":2,"q":"1.5","p":"10.25","t":9,"s":"BTCUSDT","E":3,"e":"trade","extra":{"x":[1,2,{"y":null}]}},"stream":"btcusdt@trade"})";
  const auto r = parse(*a, shuffled, sink);
  CHECK(r.error == parse_error::none);
  REQUIRE(sink.size() == 1);
  const auto t = sink.trade(0);
  CHECK(t.header.seq == 9U);
  CHECK(t.header.symbol_view() == "BTCUSDT");
  CHECK(same(t.px(), "10.25"));
  CHECK(t.aggressor == aggressor_side::buy);
}

TEST_CASE("binance: raw streams (no combined wrapper) take the symbol from s") {
  auto a = make(venue::binance);
  vector_sink sink;
  const std::string_view raw_trade =
      R"({"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true})";
  REQUIRE(parse(*a, raw_trade, sink).records == 1);
  CHECK(sink.trade(0).header.symbol_view() == "BTCUSDT");
  CHECK(sink.trade(0).header.channel_id == channel::binance_trade);
  sink.clear();
  REQUIRE(parse(*a, R"({"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"})", sink).records == 1);
  CHECK(sink.bbo(0).header.symbol_view() == "BNBUSDT");
  sink.clear();
  CHECK(parse(*a, R"({"e":"trade","E":1,"t":1,"p":"1","q":"1","m":true})", sink).error == parse_error::missing_field);
  // Partial depth has no symbol of its own: only the combined stream names it.
  CHECK(parse(*a, R"({"lastUpdateId":1,"bids":[],"asks":[]})", sink).error == parse_error::unknown_stream);
  CHECK(sink.size() == 0);
}

TEST_CASE("binance: streams we do not decode are unknown_stream, named in the detail") {
  auto a = make(venue::binance);
  vector_sink sink;
  const auto r = parse(*a, kKline, sink);
  CHECK(r.error == parse_error::unknown_stream);
  CHECK(r.detail == "nknusdt@kline_1m");
  CHECK(r.records == 0);
  CHECK(parse(*a, R"({"stream":"nostream","data":{}})", sink).error == parse_error::unknown_stream);
  CHECK(parse(*a, R"({"e":"24hrTicker","E":1,"s":"BTCUSDT"})", sink).error == parse_error::unknown_stream);
  CHECK(sink.size() == 0);
}

TEST_CASE("binance: control replies and the going-away notice are events, not records") {
  auto a = make(venue::binance);
  vector_sink sink;
  auto r = parse(*a, R"({"result":null,"id":1})", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::subscribed);
  r = parse(*a, R"({"id":"sub-7","result":null})", sink);
  CHECK(r.event == control_event::subscribed);
  r = parse(*a, R"({"result":["btcusdt@trade"],"id":2})", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::none);
  r = parse(*a, R"({"code":2,"msg":"Invalid request: unknown stream \"x\"","id":3})", sink);
  CHECK(r.error == parse_error::venue_error);
  CHECK(r.event == control_event::venue_error);
  CHECK(r.detail == R"(Invalid request: unknown stream \"x\")");
  r = parse(*a, R"({"code":3,"msg":"Invalid JSON: expected value at line 1 column 1","id":null})", sink);
  CHECK(r.event == control_event::venue_error);
  r = parse(*a, R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1767225600000}})", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::going_away);
  r = parse(*a, R"({"e":"serverShutdown","E":1767225600000})", sink);
  CHECK(r.event == control_event::going_away);
  r = parse(*a, R"({"data":{"e":"serverShutdown","E":1},"stream":"!serverShutdown"})", sink);
  CHECK(r.event == control_event::going_away);
  CHECK(sink.size() == 0);
}

TEST_CASE("binance: not JSON") {
  auto a = make(venue::binance);
  vector_sink sink;
  for (const std::string_view bad : {std::string_view(""), std::string_view("hello"), std::string_view("{"),
                                     std::string_view(R"({"stream":"btcusdt@trade","data":{"e":"trade",)"),
                                     std::string_view(R"({"stream":"btcusdt@trade","data":{"e":"trade","t":1)"),
                                     std::string_view(R"({"stream":"btcusdt@trade" "data":{}})"),
                                     std::string_view(R"({"stream":"btcusdt@trade","data":{"e":"tr)"),
                                     std::string_view("{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"p\":\"\xff\xfe\"}}")}) {
    CAPTURE(bad);
    const auto r = parse(*a, bad, sink);
    CHECK(r.error == parse_error::not_json);
    CHECK(r.records == 0);
  }
  // Trailing content after a complete message.
  const auto r = parse(*a, std::string(kTrade) + " {}", sink);
  CHECK(r.error == parse_error::not_json);
  CHECK(r.records == 0);
  CHECK(sink.size() == 0);  // a message is all or nothing: its event is not written either
}

TEST_CASE("binance: valid JSON of the wrong shape") {
  auto a = make(venue::binance);
  vector_sink sink;
  for (const std::string_view bad : {"[1,2,3]", "42", "\"trade\"", "null", "{}", R"({"foo":1})"}) {
    CAPTURE(bad);
    CHECK(parse(*a, bad, sink).error == parse_error::unexpected_shape);
  }
  CHECK(sink.size() == 0);
}

TEST_CASE("binance: a missing required field drops the message and names the field") {
  auto a = make(venue::binance);
  vector_sink sink;
  auto r = parse(*a, trade_with(R"("E":1,"s":"BTCUSDT","t":1,"q":"1","m":true)"), sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(r.detail == "trade.p");
  r = parse(*a, trade_with(R"("E":1,"t":1,"p":"1","q":"1")"), sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(r.detail == "trade.m");
  r = parse(*a, R"({"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"u":5,"b":[],"a":[]}})", sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(r.detail == "depthUpdate.U");
  r = parse(*a, R"({"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":5,"u":5,"b":[]}})", sink);
  CHECK(r.detail == "depthUpdate.a");
  r = parse(*a, R"({"stream":"btcusdt@bookTicker","data":{"u":1,"b":"1","B":"1","a":"2"}})", sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(r.detail == "bookTicker.A");
  r = parse(*a, R"({"stream":"btcusdt@depth5","data":{"lastUpdateId":1,"bids":[]}})", sink);
  CHECK(r.detail == "depth.asks");
  r = parse(*a, R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"a":1,"p":"1","q":"1","f":1,"m":true}})", sink);
  CHECK(r.detail == "aggTrade.l");
  CHECK(parse(*a, R"({"stream":"btcusdt@trade"})", sink).error == parse_error::missing_field);
  CHECK(parse(*a, R"({"data":{"e":"trade"}})", sink).error == parse_error::missing_field);
  // A level needs a price and a quantity.
  r = parse(*a, R"({"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":5,"u":5,"b":[["1.0"]],"a":[]}})", sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(sink.size() == 0);
}

TEST_CASE("binance: a required field of the wrong JSON type is wrong_type") {
  auto a = make(venue::binance);
  vector_sink sink;
  const std::string_view cases[] = {
      R"("E":1,"t":"1","p":"1","q":"1","m":true)",      // id as a string
      R"("E":1,"t":1,"p":1.5,"q":"1","m":true)",        // price as a number
      R"("E":1,"t":1,"p":"1","q":"1","m":"true")",      // bool as a string
      R"("E":"1","t":1,"p":"1","q":"1","m":true)",      // time as a string
      R"("E":1,"t":1,"p":null,"q":"1","m":true)",       // null
      R"("E":1,"t":[1],"p":"1","q":"1","m":true)",      // array
      R"("E":1,"t":1,"p":"1","q":{"v":"1"},"m":true)",  // object
  };
  for (const auto fields : cases) {
    CAPTURE(fields);
    CHECK(parse(*a, trade_with(fields), sink).error == parse_error::wrong_type);
  }
  CHECK(parse(*a, R"({"stream":"btcusdt@trade","data":[1]})", sink).error == parse_error::wrong_type);
  CHECK(parse(*a, R"({"stream":7,"data":{}})", sink).error == parse_error::wrong_type);
  CHECK(parse(*a, R"({"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":1,"u":1,"b":{},"a":[]}})", sink).error ==
        parse_error::wrong_type);
  CHECK(parse(*a, R"({"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":1,"u":1,"b":["1","2"],"a":[]}})", sink).error ==
        parse_error::wrong_type);
  CHECK(parse(*a, R"({"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":1,"u":1,"b":[[1.0,2.0]],"a":[]}})", sink).error ==
        parse_error::wrong_type);
  CHECK(sink.size() == 0);
}

TEST_CASE("binance: numbers that do not fit or are not exact are bad_number") {
  auto a = make(venue::binance);
  vector_sink sink;
  const std::string_view cases[] = {
      R"("E":1,"t":1234567890123456789012345,"p":"1","q":"1","m":true)",  // id beyond 64 bits
      R"("E":1,"t":18446744073709551616,"p":"1","q":"1","m":true)",       // 2^64
      R"("E":1,"t":-1,"p":"1","q":"1","m":true)",                         // negative id
      R"("E":1,"t":1.5,"p":"1","q":"1","m":true)",                        // fractional id
      R"("E":1,"t":1e3,"p":"1","q":"1","m":true)",                        // exponent id
      R"("E":1,"t":1,"p":"123456789012345678901234567890","q":"1","m":true)",  // 30 significant digits
      R"("E":1,"t":1,"p":"abc","q":"1","m":true)",
      R"("E":1,"t":1,"p":"","q":"1","m":true)",
      R"("E":1,"t":1,"p":"1","q":"-0.5","m":true)",           // negative quantity
      R"("E":1,"t":1,"p":"1.2.3","q":"1","m":true)",
      R"("E":1,"t":1,"p":" 1","q":"1","m":true)",
      R"("E":99999999999999,"t":1,"p":"1","q":"1","m":true)",  // ms beyond the ns range (year 5138)
      R"("E":-5,"t":1,"p":"1","q":"1","m":true)",
  };
  for (const auto fields : cases) {
    CAPTURE(fields);
    CHECK(parse(*a, trade_with(fields), sink).error == parse_error::bad_number);
  }
  CHECK(parse(*a, R"({"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"U":1,"u":1,"b":[["1","-1"]],"a":[]}})", sink).error ==
        parse_error::bad_number);
  CHECK(sink.size() == 0);

  // The largest values that do fit are exact.
  REQUIRE(parse(*a, trade_with(R"("E":9223372036854,"t":18446744073709551615,"p":"9223372036854775807","q":"0.000000000000000001","m":true)"),
                sink).records == 1);
  const auto t = sink.trade(0);
  CHECK(t.header.seq == UINT64_MAX);
  CHECK(t.header.venue_time_ns == 9223372036854LL * 1'000'000);
  CHECK(t.px_mantissa == INT64_MAX);
  CHECK(t.qty_mantissa == 1);
  CHECK(t.qty_exponent == -18);
}

TEST_CASE("binance: unknown fields are ignored wherever they are") {
  auto a = make(venue::binance);
  vector_sink sink;
  const std::string_view msg =
      R"({"stream":"btcusdt@depth@100ms","x":{"deep":[[[]]]},"data":{"e":"depthUpdate","new":"field","E":1,"s":"BTCUSDT","U":2,"u":3,"b":[["1.5","2","ignored",{"x":1}]],"a":[],"z":[true,false,null]},"y":-1.5e300})";
  const auto r = parse(*a, msg, sink);
  CHECK(r.error == parse_error::none);
  REQUIRE(sink.size() == 1);
  CHECK(sink.book(0).level_count() == 1);
  CHECK(same(sink.book(0).level(0).qty(), "2"));
}

TEST_CASE("binance: a delta too large for one record is record_too_large, never truncated") {
  // Room for 2 levels: 96 + 2 × 24 = 144 bytes.
  auto a = make(venue::binance, 150);
  vector_sink sink;
  const auto r = parse(*a, kDepth, sink);  // 5 levels
  CHECK(r.error == parse_error::record_too_large);
  CHECK(r.records == 0);
  CHECK(sink.size() == 0);
  CHECK(parse(*a, kDepthNoBids, sink).records == 1);  // 1 level fits
}

TEST_CASE("binance: a partial depth snapshot larger than a record is split into numbered parts") {
  auto a = make(venue::binance, 150);  // 2 levels a record
  vector_sink sink;
  const auto r = parse(*a, kPartial, sink);  // 3 levels
  CHECK(r.error == parse_error::none);
  REQUIRE(r.records == 2);
  CHECK(sink.book(0).level_count() == 2);
  CHECK(sink.book(1).level_count() == 1);
  CHECK(sink.book(0).first_part());
  CHECK_FALSE(sink.book(0).last_part());
  CHECK_FALSE(sink.book(1).first_part());
  CHECK(sink.book(1).last_part());
  CHECK(sink.book(1).fixed().part_index == 1);
  CHECK(sink.book(1).header().seq == 160U);
}

TEST_CASE("binance: a full ring drops the rest of the message and says so") {
  auto a = make(venue::binance, 150);
  vector_sink sink;
  sink.refuse_after = 0;
  auto r = parse(*a, kTrade, sink);
  CHECK(r.error == parse_error::ring_full);
  CHECK(r.records == 0);
  sink.refuse_after = 1;  // the first part fits, the second does not
  r = parse(*a, kPartial, sink);
  CHECK(r.error == parse_error::ring_full);
  CHECK(r.records == 1);
  CHECK(sink.size() == 1);
  CHECK_FALSE(sink.book(0).last_part());  // the consumer sees an incomplete snapshot
}

TEST_CASE("binance: a message over max_message_bytes is refused unread") {
  auto a = make(venue::binance, 65535, 128);
  vector_sink sink;
  CHECK(kTrade.size() > 128);
  auto r = parse(*a, kTrade, sink);
  CHECK(r.error == parse_error::message_too_large);
  CHECK(sink.size() == 0);
  CHECK(parse(*a, R"({"result":null,"id":1})", sink).event == control_event::subscribed);
}

TEST_CASE("binance: REST depth snapshot (1000 levels a side) → parts flagged from REST") {
  const std::string body = read_file(std::string(MDBUS_BENCH_DATA) + "/binance_rest_depth.json");
  const subscription sub{channel::binance_depth, "BTCUSDT", "100ms"};
  SUBCASE("one record when it fits") {
    auto a = make(venue::binance);
    vector_sink sink;
    const auto r = parse_snapshot(*a, sub, body, sink);
    CHECK(r.error == parse_error::none);
    REQUIRE(r.records == 1);
    const auto b = sink.book(0);
    check_stream(b.header(), channel::binance_depth, "BTCUSDT");
    CHECK(b.header().type == record_type::book_snapshot);
    CHECK(b.header().flags == (kHeaderHasSeq | kHeaderFromRest));
    CHECK(b.header().seq == 50093239218U);
    CHECK(b.level_count() == 2000);
    CHECK(b.level(0).side == book_side::bid);
    CHECK(same(b.level(0).px(), "61837.63000000"));
    CHECK(b.level(1999).side == book_side::ask);
  }
  SUBCASE("split in parts of a small ring") {
    const std::size_t max_record = book_record_size(300);
    auto a = make(venue::binance, max_record);
    vector_sink sink;
    const auto r = parse_snapshot(*a, sub, body, sink);
    CHECK(r.error == parse_error::none);
    REQUIRE(r.records == 7);  // 2000 levels / 300
    std::size_t levels = 0;
    for (std::size_t i = 0; i < sink.size(); ++i) {
      const auto b = sink.book(i);
      CHECK(b.fixed().part_index == i);
      CHECK(b.first_part() == (i == 0));
      CHECK(b.last_part() == (i == 6));
      CHECK(b.header().seq == 50093239218U);
      CHECK(sink.frames[i].size() <= max_record);
      levels += b.level_count();
    }
    CHECK(levels == 2000);
    CHECK(sink.book(6).level_count() == 200);
  }
}

TEST_CASE("binance: REST errors and malformed snapshot bodies") {
  auto a = make(venue::binance);
  vector_sink sink;
  const subscription sub{channel::binance_depth, "BTCUSDT", ""};
  auto r = parse_snapshot(*a, sub, R"({"code":-1121,"msg":"Invalid symbol."})", sink);
  CHECK(r.error == parse_error::venue_error);
  CHECK(r.event == control_event::venue_error);
  CHECK(r.detail == "Invalid symbol.");
  CHECK(parse_snapshot(*a, sub, R"({"lastUpdateId":1,"bids":[]})", sink).error == parse_error::missing_field);
  CHECK(parse_snapshot(*a, sub, R"({"lastUpdateId":1,"bids":[],"asks":[["1"]]})", sink).error == parse_error::missing_field);
  CHECK(parse_snapshot(*a, sub, R"({"lastUpdateId":"1","bids":[],"asks":[]})", sink).error == parse_error::wrong_type);
  CHECK(parse_snapshot(*a, sub, R"({"lastUpdateId":1,"bids":[],"asks":[)", sink).error == parse_error::not_json);
  CHECK(parse_snapshot(*a, sub, "[]", sink).error == parse_error::unexpected_shape);
  CHECK(parse_snapshot(*a, {channel::binance_trade, "BTCUSDT", ""}, R"({"lastUpdateId":1,"bids":[],"asks":[]})", sink).error ==
        parse_error::unknown_stream);
  CHECK(sink.size() == 0);
  r = parse_snapshot(*a, sub, R"({"lastUpdateId":1,"bids":[],"asks":[]})", sink);
  CHECK(r.error == parse_error::none);
  REQUIRE(r.records == 1);
  CHECK(sink.book(0).level_count() == 0);
  CHECK(sink.book(0).first_part());
  CHECK(sink.book(0).last_part());
}

TEST_CASE("binance: symbols longer than a record holds are cut and flagged") {
  auto a = make(venue::binance);
  vector_sink sink;
  const std::string msg =
      R"({"stream":"abcdefghijklmnopqrstuvwxyz0123@trade","data":{"e":"trade","E":1,"t":1,"p":"1","q":"1","m":true}})";
  REQUIRE(parse(*a, msg, sink).records == 1);
  const auto h = sink.trade(0).header;
  CHECK(h.symbol_view() == "ABCDEFGHIJKLMNOPQRSTUVWX");
  CHECK((h.flags & kHeaderSymbolTruncated) != 0);
  CHECK((h.flags & kHeaderHasSeq) != 0);
}

TEST_CASE("binance: every recorded message decodes (kline is the only stream we skip)") {
  auto a = make(venue::binance);
  vector_sink sink;
  std::size_t messages = 0, records = 0, klines = 0;
  for (const auto& line : read_lines(std::string(MDBUS_BENCH_DATA) + "/binance_spot.jsonl")) {
    sink.clear();
    const auto r = parse(*a, line, sink);
    ++messages;
    if (line.find("@kline_") != std::string::npos) {
      CHECK(r.error == parse_error::unknown_stream);
      ++klines;
      continue;
    }
    CAPTURE(line);
    CHECK(r.error == parse_error::none);
    CHECK(r.records == 1);
    for (std::size_t i = 0; i < sink.size(); ++i) (void)sink.view(i);
    records += r.records;
  }
  CHECK(messages == 1264);
  CHECK(klines == 2);
  CHECK(records == 1262);
}

TEST_CASE("binance: the U..u chain of the recorded diff depth holds through the adapter") {
  auto a = make(venue::binance);
  vector_sink sink;
  std::uint64_t last_u = 0;
  std::size_t checked = 0;
  for (const auto& line : read_lines(std::string(MDBUS_BENCH_DATA) + "/binance_spot.jsonl")) {
    if (line.find("btcusdt@depth") == std::string::npos) continue;
    sink.clear();
    REQUIRE(parse(*a, line, sink).records == 1);
    const auto h = sink.book(0).header();
    if (last_u != 0) {
      CHECK(h.first_seq == last_u + 1);
      ++checked;
    }
    last_u = h.seq;
  }
  CHECK(checked > 50);
}

TEST_CASE("binance: corrupted recorded messages never crash and never yield an invalid record") {
  auto a = make(venue::binance, 1000);  // small records, so snapshots are split too
  corrupt_and_parse(*a, read_lines(std::string(MDBUS_BENCH_DATA) + "/binance_spot.jsonl"), 20);
}

// rest-api.md "Exchange information" (2026-12): each symbol's filters; filters.md: PRICE_FILTER
// tickSize and LOT_SIZE stepSize, either of which may be 0 ("disabled").
TEST_CASE("binance: the instrument check gives each symbol's reference data: spot, 1 of the base asset, tick and step") {
  auto a = make(venue::binance);
  const std::string body =
      R"({"timezone":"UTC","serverTime":1565246363776,"rateLimits":[],"exchangeFilters":[],"symbols":[)"
      R"({"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","baseAssetPrecision":8,"quoteAsset":"BTC",)"
      R"("quotePrecision":8,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.00000100",)"
      R"("maxPrice":"100000.00000000","tickSize":"0.00000100"},{"filterType":"LOT_SIZE","minQty":"0.00100000",)"
      R"("maxQty":"100000.00000000","stepSize":"0.00100000"},{"filterType":"MARKET_LOT_SIZE","minQty":"0.00000000",)"
      R"("maxQty":"1000.00000000","stepSize":"0.00000000"}]},)"
      R"({"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","quoteAsset":"USDT","filters":[)"
      R"({"filterType":"PRICE_FILTER","minPrice":"0","maxPrice":"0","tickSize":"0"},)"
      R"({"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"}]}]})";
  const std::vector<std::string> syms{"BTCUSDT", "ETHBTC"};
  const instrument_check c = a->check_instruments(200, body, syms);
  REQUIRE(c.result == instrument_check::outcome::ok);
  REQUIRE(c.instruments.size() == 2);  // in the order of the symbols asked for
  const instrument_record& btc = c.instruments[0];
  CHECK(btc.header.symbol_view() == "BTCUSDT");
  CHECK(btc.header.venue_id == venue::binance);
  CHECK(btc.header.channel_id == channel::reference);
  CHECK(btc.kind == instrument_kind::spot);
  CHECK(same(btc.contract_value(), "1"));
  CHECK(btc.contract_currency_view() == "BTC");
  CHECK((btc.fields & kHasTickSize) == 0);  // tickSize 0: the rule is disabled
  CHECK(same(btc.lot_size(), "0.00001000"));
  const instrument_record& eth = c.instruments[1];
  CHECK(eth.header.symbol_view() == "ETHBTC");
  CHECK(same(eth.tick_size(), "0.00000100"));
  CHECK(same(eth.lot_size(), "0.00100000"));  // LOT_SIZE, not MARKET_LOT_SIZE
  CHECK(eth.contract_currency_view() == "ETH");

  // A filter value that is not a decimal >= 0 refuses the symbol, in one line that names it.
  std::string bad = body;
  bad.replace(bad.find("0.00100000\"},"), 10, "-0.001");
  const instrument_check b = a->check_instruments(200, bad, syms);
  CHECK(b.result == instrument_check::outcome::refused);
  CHECK(b.instruments.empty());
  REQUIRE(b.problems.size() == 1);
  CHECK(b.problems[0] == "\"ETHBTC\": exchangeInfo LOT_SIZE.stepSize \"-0.001\" is not a decimal >= 0");
}

TEST_CASE("binance: trade history rows (historicalTrades, aggTrades) are the stream's trade records, flagged backfilled, ids from..to") {
  auto a = make(venue::binance);
  vector_sink sink;
  // The stream's records of the same trades, to compare with.
  REQUIRE(parse(*a, R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000100,"s":"BTCUSDT","t":12346,"p":"65432.10","q":"0.00500000","T":1700000000100,"m":true,"M":true}})", sink).records == 1);
  REQUIRE(parse(*a, R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1700000000100,"s":"BTCUSDT","a":700,"p":"65432.10","q":"0.25","f":12346,"l":12348,"T":1700000000100,"m":false,"M":true}})", sink).records == 1);
  const trade_record stream_trade = sink.trade(0);
  const trade_record stream_agg = sink.trade(1);
  sink.clear();

  // rest-api.md "Old trade lookup": oldest first; ids outside 12346..12347 are not written.
  const subscription trades{channel::binance_trade, "BTCUSDT", ""};
  const std::string body =
      R"([{"id":12345,"price":"65432.00","qty":"1.0","quoteQty":"65432","time":1700000000000,"isBuyerMaker":false,"isBestMatch":true},)"
      R"({"id":12346,"price":"65432.10","qty":"0.00500000","quoteQty":"327.1605","time":1700000000100,"isBuyerMaker":true,"isBestMatch":true},)"
      R"({"id":12347,"price":"65432.20","qty":"0.1","quoteQty":"6543.22","time":1700000000200,"isBuyerMaker":false,"isBestMatch":true},)"
      R"({"id":12348,"price":"65432.30","qty":"0.2","quoteQty":"13086.46","time":1700000000300,"isBuyerMaker":false,"isBestMatch":true}])";
  sink.message = simdjson::padded_string(body);
  backfill_page page;
  const parse_result r = a->parse_backfill(trades, sink.message, 12346, 12347, kReceiveNs, sink, page);
  CHECK(r.error == parse_error::none);
  CHECK(r.records == 2);
  CHECK(page.rows == 4);
  CHECK(page.first_id == 12345);
  CHECK(page.last_id == 12348);
  CHECK(page.written == 2);
  const trade_record t = sink.trade(0);
  CHECK(t.header.seq == 12346);
  CHECK(t.header.flags == (stream_trade.header.flags | kHeaderBackfilled));
  CHECK(t.header.symbol_view() == "BTCUSDT");
  CHECK(t.header.channel_id == channel::binance_trade);
  CHECK(t.header.slot == slot_id::b);
  CHECK(t.px() == stream_trade.px());
  CHECK(t.qty() == stream_trade.qty());
  CHECK(t.aggressor == stream_trade.aggressor);
  CHECK(t.trade_count == 1);
  CHECK(t.header.venue_time_ns == 1'700'000'000'100'000'000);  // the trade time
  CHECK(sink.trade(1).header.seq == 12347);
  CHECK(sink.trade(1).aggressor == aggressor_side::buy);
  sink.clear();

  // "Compressed/Aggregate trades list".
  const subscription aggs{channel::binance_agg_trade, "BTCUSDT", ""};
  sink.message = simdjson::padded_string(std::string(
      R"([{"a":700,"p":"65432.10","q":"0.25","f":12346,"l":12348,"T":1700000000100,"m":false,"M":true}])"));
  CHECK(a->parse_backfill(aggs, sink.message, 700, 700, kReceiveNs, sink, page).records == 1);
  const trade_record g = sink.trade(0);
  CHECK(g.header.seq == 700);
  CHECK(g.header.flags == (stream_agg.header.flags | kHeaderBackfilled));
  CHECK(g.first_trade_id == 12346);
  CHECK(g.last_trade_id == 12348);
  CHECK(g.trade_count == stream_agg.trade_count);
  CHECK(g.qty() == stream_agg.qty());
  sink.clear();

  // Bad answers write nothing: the venue's error, rows out of order, a malformed row.
  const auto refused = [&](const subscription& s, std::string text, parse_error want) {
    sink.message = simdjson::padded_string(text);
    const parse_result p = a->parse_backfill(s, sink.message, 1, 100000, kReceiveNs, sink, page);
    CHECK(p.error == want);
    CHECK(sink.size() == 0);
    CHECK(page.rows == 0);
  };
  refused(trades, R"({"code":-1121,"msg":"Invalid symbol."})", parse_error::venue_error);
  refused(trades, R"([{"id":5,"price":"1","qty":"1","time":1,"isBuyerMaker":true},{"id":5,"price":"1","qty":"1","time":1,"isBuyerMaker":true}])",
          parse_error::invalid_value);
  refused(trades, R"([{"id":5,"price":"1","qty":"0","time":1,"isBuyerMaker":true}])", parse_error::invalid_value);
  refused(trades, R"([{"id":5,"price":"1","time":1,"isBuyerMaker":true}])", parse_error::missing_field);
  refused(aggs, R"([{"a":5,"p":"1","q":"1","f":9,"l":8,"T":1,"m":true}])", parse_error::invalid_value);
  refused(trades, R"([{"id":5,)", parse_error::not_json);
  // And channels without a history are refused outright.
  refused({channel::binance_depth, "BTCUSDT", ""}, "[]", parse_error::unknown_stream);
  CHECK(a->backfill_path(trades, 12346, 5000) == "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=12346&limit=1000");
  CHECK(a->backfill_path(aggs, 700, 10) == "/api/v3/aggTrades?symbol=BTCUSDT&fromId=700&limit=10");
  CHECK_THROWS_AS((void)a->backfill_path({channel::binance_book_ticker, "BTCUSDT", ""}, 1, 1), std::invalid_argument);
}
